.class public Lorg/phonehome/test/flows/HandlerCase;
.super Landroid/content/BroadcastReceiver;
.source "HandlerCase.java"

# The ICCID rides in a Message to a Handler (msg.obj) that stores it in a database through ContentValues.

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
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getSimSerialNumber()Ljava/lang/String;
    move-result-object v1
    invoke-static {}, Landroid/os/Message;->obtain()Landroid/os/Message;
    move-result-object v2
    iput-object v1, v2, Landroid/os/Message;->obj:Ljava/lang/Object;
    invoke-static {}, Landroid/os/Looper;->getMainLooper()Landroid/os/Looper;
    move-result-object v3
    new-instance v0, Lorg/phonehome/test/flows/Saver;
    invoke-direct {v0, v3}, Lorg/phonehome/test/flows/Saver;-><init>(Landroid/os/Looper;)V
    invoke-virtual {v0, v2}, Lorg/phonehome/test/flows/Saver;->sendMessage(Landroid/os/Message;)Z
    return-void
.end method
