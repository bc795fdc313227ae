.class public interface abstract Lorg/phonehome/test/flows/Api;
.super Ljava/lang/Object;
.source "Api.java"

# A Retrofit service interface: Retrofit implements it at run time (a dynamic proxy),
# so the APK holds no code for register().

.method public abstract register(Lokhttp3/RequestBody;)Lretrofit2/Call;
    .annotation runtime Lretrofit2/http/POST;
        value = "v1/register"
    .end annotation
.end method
