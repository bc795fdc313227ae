.class final Lorg/phonehome/test/flows/Ids;
.super Ljava/lang/Object;
.source "Ids.java"

# A helper that reads the IMEI and returns it (or "" without the permission), as most
# apps wrap identifier reads.

.method static imei(Landroid/content/Context;)Ljava/lang/String;
    .registers 3
    :try_start
    const-string v0, "phone"
    invoke-virtual {p0, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    :try_end
    .catch Ljava/lang/SecurityException; {:try_start .. :try_end} :denied
    return-object v0
    :denied
    const-string v0, ""
    return-object v0
.end method
