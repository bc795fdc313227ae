.class final Lorg/phonehome/test/flows/Fill;
.super Ljava/lang/Object;
.source "Fill.java"

.method static fill(Lorg/json/JSONObject;Landroid/content/Context;)V
    .registers 5
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getCellLocation()Landroid/telephony/CellLocation;
    move-result-object v0
    :try_start
    const-string v1, "cell"
    invoke-virtual {p0, v1, v0}, Lorg/json/JSONObject;->put(Ljava/lang/String;Ljava/lang/Object;)Lorg/json/JSONObject;
    :try_end
    .catch Lorg/json/JSONException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
