#!/usr/bin/env bash
# Capture a real SIP REGISTER over TLS 1.3 on loopback, with its key log:
# tests/data/sip/register_tls.pcap + register_tls.keys. Needs root (tcpdump -i lo) and
# openssl. The server is OpenSSL's s_server, the client Python's ssl module (OpenSSL
# underneath) writing SSLKEYLOGFILE lines; the REGISTER carries an IMS identity made of
# an IMSI and an IMEI URN, as a VoLTE/VoWiFi client's does.
set -euo pipefail
out=${1:-tests/data/sip/register_tls}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=pcscf.ims.mnc001.mcc242.3gppnetwork.org" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=5061  # SIP over TLS (RFC 3261): tshark dissects the plaintext as SIP on it
tcpdump -i lo -U -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
openssl s_server -accept "$port" -cert "$work/cert.pem" -key "$work/key.pem" -quiet \
  >/dev/null 2>&1 &
sleep 1
python3 - "$port" "$work/keys" <<'PY'
import socket, ssl, sys, time
port, keys = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.keylog_filename = keys
realm = "ims.mnc001.mcc242.3gppnetwork.org"
user = f"sip:242010676851628@{realm}"
register = (
    f"REGISTER sip:{realm} SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 127.0.0.1:5062;branch=z9hG4bK1;rport\r\n"
    "Max-Forwards: 70\r\n"
    f"From: <{user}>;tag=4fa3\r\n"
    f"To: <{user}>\r\n"
    "Call-ID: 8d2f1c@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    '<sip:127.0.0.1:5062;transport=tls>;+sip.instance="<urn:gsma:imei:35675904-123456-0>"'
    "\r\n"
    "Expires: 600000\r\n"
    "Content-Length: 0\r\n\r\n"
).replace("<sip:127", "Contact: <sip:127", 1)
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=realm) as s:
    s.sendall(register.encode())
    time.sleep(0.5)
PY
sleep 1
kill %1 2>/dev/null || true
wait %1 2>/dev/null || true
cp "$work/cap.pcap" "$out.pcap"
cp "$work/keys" "$out.keys"
echo "wrote $out.pcap ($(stat -c %s "$out.pcap") bytes) and $out.keys"
