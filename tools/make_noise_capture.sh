#!/usr/bin/env bash
# Capture real programs uploading public, identifier-shaped text on loopback:
# tests/data/noise/uploads.pcap, the precision benchmark's stress capture (benchmarks/
# precision.py). curl POSTs, to a Python http.server sink that answers 204:
#   - 40 Mozilla root certificates (PEM: Base64 of DER, whose bytes hold every digit run),
#   - the operator table of mobile-broadband-provider-info (MCC/MNC, APNs, SMSC and DNS),
#   - 2,000 lines of the IEEE OUI registry (MAC prefixes and company addresses),
#   - the Debian copyright files of curl and tcpdump (real authors' e-mail addresses).
# Nothing in them is a device identifier; the e-mail addresses are true e-mail findings.
# Needs root (tcpdump -i lo), curl, python3 and the Debian packages ca-certificates,
# mobile-broadband-provider-info and ieee-data.
set -euo pipefail
out=${1:-tests/data/noise/uploads.pcap}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/sink.py" <<'EOF'
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
EOF
python3 "$work/sink.py" "$port" &
tcpdump -i lo -U -s 0 -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
sleep 1
ls /usr/share/ca-certificates/mozilla/*.crt | sort | head -40 | xargs cat > "$work/roots.pem"
head -2000 /usr/share/ieee-data/oui.csv > "$work/oui.csv"
cat /usr/share/doc/curl/copyright /usr/share/doc/tcpdump/copyright > "$work/copyright.txt"
post() {
  curl -s -o /dev/null -H "Content-Type: $2" --data-binary "@$1" \
    "http://127.0.0.1:$port/upload/$(basename "$1")"
}
post "$work/roots.pem" application/x-pem-file
post /usr/share/mobile-broadband-provider-info/serviceproviders.xml application/xml
post "$work/oui.csv" text/csv
post "$work/copyright.txt" text/plain
sleep 1
kill %2 2>/dev/null || true
wait %2 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
