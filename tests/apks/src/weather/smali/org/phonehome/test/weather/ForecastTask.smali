.class final Lorg/phonehome/test/weather/ForecastTask;
.super Ljava/lang/Object;
.source "ForecastTask.java"

# Fetches a forecast over HTTPS; sends no identifier.

.implements Ljava/lang/Runnable;

.method constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method

.method public run()V
    .registers 3
    :try_start
    new-instance v0, Ljava/net/URL;
    const-string v1, "https://api.weather.example.org/v1/forecast?city=Oslo"
    invoke-direct {v0, v1}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v0}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v0
    check-cast v0, Ljava/net/HttpURLConnection;
    invoke-virtual {v0}, Ljava/net/HttpURLConnection;->getInputStream()Ljava/io/InputStream;
    move-result-object v1
    invoke-virtual {v1}, Ljava/io/InputStream;->close()V
    invoke-virtual {v0}, Ljava/net/HttpURLConnection;->disconnect()V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    return-void

    :failed
    move-exception v0
    return-void
.end method
