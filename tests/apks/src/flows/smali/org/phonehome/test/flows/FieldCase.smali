.class public Lorg/phonehome/test/flows/FieldCase;
.super Landroid/content/BroadcastReceiver;
.source "FieldCase.java"

# The ICCID goes through a static field to a socket (flow through a field).

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 5
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getSimSerialNumber()Ljava/lang/String;
    move-result-object v1
    sput-object v1, Lorg/phonehome/test/flows/Holder;->iccid:Ljava/lang/String;
    invoke-static {}, Lorg/phonehome/test/flows/Holder;->send()V
    return-void
.end method
