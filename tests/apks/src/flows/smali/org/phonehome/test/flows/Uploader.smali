.class final Lorg/phonehome/test/flows/Uploader;
.super Ljava/lang/Object;
.source "Uploader.java"
.implements Ljava/lang/Runnable;

.field private final id:Ljava/lang/String;

.method constructor <init>(Ljava/lang/String;)V
    .registers 2
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Lorg/phonehome/test/flows/Uploader;->id:Ljava/lang/String;
    return-void
.end method

.method public run()V
    .registers 4
    :try_start
    new-instance v0, Ljava/net/URL;
    const-string v1, "https://devices.flows.example.net/hello"
    invoke-direct {v0, v1}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v0}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v0
    check-cast v0, Ljava/net/HttpURLConnection;
    const-string v1, "X-Device"
    iget-object v2, p0, Lorg/phonehome/test/flows/Uploader;->id:Ljava/lang/String;
    invoke-virtual {v0, v1, v2}, Ljava/net/HttpURLConnection;->setRequestProperty(Ljava/lang/String;Ljava/lang/String;)V
    invoke-virtual {v0}, Ljava/net/HttpURLConnection;->connect()V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
