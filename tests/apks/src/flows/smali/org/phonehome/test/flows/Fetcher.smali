.class final Lorg/phonehome/test/flows/Fetcher;
.super Landroid/os/AsyncTask;
.source "Fetcher.java"

# AsyncTask<String, Void, Integer>: the framework calls the bridge doInBackground(Object[]),
# which calls the typed one, as javac compiles it.

.method constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/os/AsyncTask;-><init>()V
    return-void
.end method

.method protected varargs doInBackground([Ljava/lang/String;)Ljava/lang/Integer;
    .registers 7
    const/4 v0, 0x0
    aget-object v1, p1, v0
    const/4 v2, 0x1
    new-array v2, v2, [Ljava/lang/Object;
    aput-object v1, v2, v0
    const-string v3, "https://async.flows.example.net/a?d=%s"
    invoke-static {v3, v2}, Ljava/lang/String;->format(Ljava/lang/String;[Ljava/lang/Object;)Ljava/lang/String;
    move-result-object v3
    :try_start
    new-instance v4, Ljava/net/URL;
    invoke-direct {v4, v3}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v4}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v4
    check-cast v4, Ljava/net/HttpURLConnection;
    invoke-virtual {v4}, Ljava/net/HttpURLConnection;->getResponseCode()I
    move-result v0
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    invoke-static {v0}, Ljava/lang/Integer;->valueOf(I)Ljava/lang/Integer;
    move-result-object v0
    return-object v0
.end method

.method protected bridge synthetic doInBackground([Ljava/lang/Object;)Ljava/lang/Object;
    .registers 3
    check-cast p1, [Ljava/lang/String;
    invoke-virtual {p0, p1}, Lorg/phonehome/test/flows/Fetcher;->doInBackground([Ljava/lang/String;)Ljava/lang/Integer;
    move-result-object v0
    return-object v0
.end method
