#!/usr/bin/env bash
# Capture a real SMTP submission over implicit TLS (RFC 8314 "submissions", port 465) on
# loopback, with its key log: tests/data/smtp/submissions_tls.pcap + submissions_tls.keys.
# Needs root (tcpdump -i lo), openssl and Python 3.11 (whose stdlib still has smtpd).
# The client is Python's smtplib.SMTP_SSL (OpenSSL underneath) writing SSLKEYLOGFILE
# lines; the server is the stdlib's smtpd behind a Python ssl listener on 465 that passes
# the plaintext to it on another loopback port (only 465 is captured). The mail is a
# camera's alert: EHLO name with its MAC, envelope addresses, a Subject with its serial.
set -euo pipefail
out=${1:-tests/data/smtp/submissions_tls}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=smtp.example.net" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
port=465
tcpdump -i lo -U -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
sleep 1
python3 -W ignore - "$port" "$work" <<'PY'
import asyncore, select, smtpd, smtplib, socket, ssl, sys, threading, time

port, work = int(sys.argv[1]), sys.argv[2]


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        return None  # 250 OK


sink = Sink(("127.0.0.1", 0), None, decode_data=False)
inner = sink.socket.getsockname()[1]
threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True).start()

sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(f"{work}/cert.pem", f"{work}/key.pem")
listener = socket.create_server(("127.0.0.1", port))


def serve() -> None:
    conn, _ = listener.accept()
    tls = sctx.wrap_socket(conn, server_side=True)
    plain = socket.create_connection(("127.0.0.1", inner))
    while True:
        ready, _, _ = select.select([tls, plain], [], [], 5)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            (plain if sock is tls else tls).sendall(data)


threading.Thread(target=serve, daemon=True).start()
cctx = ssl.create_default_context()
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
cctx.keylog_filename = f"{work}/keys"
message = (
    "From: IPCamera <alarm@cam.example>\r\n"
    "To: owner@example.org\r\n"
    "Subject: Motion alarm, camera serial DS2CD2143G0I20200515\r\n"
    "Message-ID: <a414375e219c.1@cam.example>\r\n"
    "\r\n"
    "Motion detected on channel 1.\r\n"
)
with smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="IPC-a414375e219c", context=cctx) as s:
    s.ehlo()
    s.sendmail("alarm@cam.example", ["owner@example.org"], message, ["BODY=8BITMIME"])
time.sleep(0.5)
PY
sleep 1
kill %1 2>/dev/null || true
wait %1 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out.pcap"
cp "$work/keys" "$out.keys"
echo "wrote $out.pcap ($(stat -c %s "$out.pcap") bytes) and $out.keys"
