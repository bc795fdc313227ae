.class final Lorg/phonehome/test/bootweather/Fetch;
.super Ljava/lang/Object;
.source "Fetch.java"

# Fetches the forecast for a city name (a constant): no identifier in the request.

.implements Ljava/lang/Runnable;

.field private final city:Ljava/lang/String;

.method constructor <init>(Ljava/lang/String;)V
    .registers 2
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Lorg/phonehome/test/bootweather/Fetch;->city:Ljava/lang/String;
    return-void
.end method

.method public run()V
    .registers 4
    :try_start
    new-instance v0, Ljava/lang/StringBuilder;
    const-string v1, "https://api.weather.example.org/v1/forecast?city="
    invoke-direct {v0, v1}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    iget-object v1, p0, Lorg/phonehome/test/bootweather/Fetch;->city:Ljava/lang/String;
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v1
    new-instance v0, Ljava/net/URL;
    invoke-direct {v0, v1}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual {v0}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v0
    check-cast v0, Ljava/net/HttpURLConnection;
    invoke-virtual {v0}, Ljava/net/HttpURLConnection;->getResponseCode()I
    invoke-virtual {v0}, Ljava/net/HttpURLConnection;->disconnect()V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    return-void

    :failed
    move-exception v0
    return-void
.end method
