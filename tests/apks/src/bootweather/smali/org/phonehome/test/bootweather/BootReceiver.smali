.class public Lorg/phonehome/test/bootweather/BootReceiver;
.super Landroid/content/BroadcastReceiver;
.source "BootReceiver.java"

# Reads the IMEI, logs it, then starts Fetch on a thread: the IMEI goes to the log only.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 6
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getImei()Ljava/lang/String;
    move-result-object v1
    const-string v0, "BootWeather"
    invoke-static {v0, v1}, Landroid/util/Log;->d(Ljava/lang/String;Ljava/lang/String;)I
    new-instance v0, Ljava/lang/Thread;
    new-instance v1, Lorg/phonehome/test/bootweather/Fetch;
    const-string v2, "Oslo"
    invoke-direct {v1, v2}, Lorg/phonehome/test/bootweather/Fetch;-><init>(Ljava/lang/String;)V
    invoke-direct {v0, v1}, Ljava/lang/Thread;-><init>(Ljava/lang/Runnable;)V
    invoke-virtual {v0}, Ljava/lang/Thread;->start()V
    return-void
.end method
