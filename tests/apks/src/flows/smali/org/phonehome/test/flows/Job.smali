.class final Lorg/phonehome/test/flows/Job;
.super Ljava/lang/Object;
.source "Job.java"
.implements Ljava/lang/Runnable;

.field private final context:Landroid/content/Context;
.field private final values:Ljava/util/Map;

.method constructor <init>(Landroid/content/Context;Ljava/util/Map;)V
    .registers 3
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Lorg/phonehome/test/flows/Job;->context:Landroid/content/Context;
    iput-object p2, p0, Lorg/phonehome/test/flows/Job;->values:Ljava/util/Map;
    return-void
.end method

.method public run()V
    .registers 6
    iget-object v0, p0, Lorg/phonehome/test/flows/Job;->values:Ljava/util/Map;
    const-string v1, "imsi"
    invoke-interface {v0, v1}, Ljava/util/Map;->get(Ljava/lang/Object;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Ljava/lang/String;
    new-instance v2, Landroid/os/Bundle;
    invoke-direct {v2}, Landroid/os/Bundle;-><init>()V
    invoke-virtual {v2, v1, v0}, Landroid/os/Bundle;->putString(Ljava/lang/String;Ljava/lang/String;)V
    invoke-virtual {v2, v1}, Landroid/os/Bundle;->getString(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    iget-object v3, p0, Lorg/phonehome/test/flows/Job;->context:Landroid/content/Context;
    const-string v4, "ids"
    const/4 v2, 0x0
    invoke-virtual {v3, v4, v2}, Landroid/content/Context;->getSharedPreferences(Ljava/lang/String;I)Landroid/content/SharedPreferences;
    move-result-object v3
    invoke-interface {v3}, Landroid/content/SharedPreferences;->edit()Landroid/content/SharedPreferences$Editor;
    move-result-object v3
    invoke-interface {v3, v1, v0}, Landroid/content/SharedPreferences$Editor;->putString(Ljava/lang/String;Ljava/lang/String;)Landroid/content/SharedPreferences$Editor;
    move-result-object v3
    invoke-interface {v3}, Landroid/content/SharedPreferences$Editor;->apply()V
    return-void
.end method
