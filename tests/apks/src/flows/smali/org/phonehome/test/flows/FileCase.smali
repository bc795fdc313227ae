.class public Lorg/phonehome/test/flows/FileCase;
.super Landroid/content/BroadcastReceiver;
.source "FileCase.java"

# The Android ID is written to a private file (openFileOutput, through a PrintWriter).

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 6
    invoke-virtual {p1}, Landroid/content/Context;->getContentResolver()Landroid/content/ContentResolver;
    move-result-object v0
    const-string v1, "android_id"
    invoke-static {v0, v1}, Landroid/provider/Settings$Secure;->getString(Landroid/content/ContentResolver;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v1
    :try_start
    const-string v0, "device.txt"
    const/4 v2, 0x0
    invoke-virtual {p1, v0, v2}, Landroid/content/Context;->openFileOutput(Ljava/lang/String;I)Ljava/io/FileOutputStream;
    move-result-object v0
    new-instance v3, Ljava/io/PrintWriter;
    invoke-direct {v3, v0}, Ljava/io/PrintWriter;-><init>(Ljava/io/OutputStream;)V
    invoke-virtual {v3, v1}, Ljava/io/PrintWriter;->println(Ljava/lang/String;)V
    invoke-virtual {v3}, Ljava/io/PrintWriter;->close()V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
