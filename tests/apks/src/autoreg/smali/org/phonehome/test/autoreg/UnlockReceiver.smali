.class public Lorg/phonehome/test/autoreg/UnlockReceiver;
.super Landroid/content/BroadcastReceiver;
.source "UnlockReceiver.java"

# Entry point: the USER_PRESENT receiver hands the work to a thread (an implicit
# Thread(Runnable).start -> run edge for the call graph).

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 5
    new-instance v0, Ljava/lang/Thread;
    new-instance v1, Lorg/phonehome/test/autoreg/RegistrationTask;
    invoke-direct {v1, p1}, Lorg/phonehome/test/autoreg/RegistrationTask;-><init>(Landroid/content/Context;)V
    invoke-direct {v0, v1}, Ljava/lang/Thread;-><init>(Ljava/lang/Runnable;)V
    invoke-virtual {v0}, Ljava/lang/Thread;->start()V
    return-void
.end method
