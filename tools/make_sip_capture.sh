#!/usr/bin/env bash
# Capture real SIP over TCP on loopback: tests/data/sip/sipp_tcp.pcap. SIPp (Debian
# sip-tester) runs its built-in UAS and UAC scenarios over one TCP connection (-t t1):
# three calls (INVITE with SDP, 100, 180, 200 with SDP, ACK, BYE, 200), so the capture
# holds several messages per segment and messages split over segments as SIPp writes
# them. Needs root (tcpdump -i lo) and sip-tester.
set -euo pipefail
out=${1:-tests/data/sip/sipp_tcp.pcap}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcpdump -i lo -U -s 0 -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
sleep 1
(cd "$work" && exec sipp -sn uas -t t1 -i 127.0.0.1 -p "$port" -nostdin >/dev/null 2>&1) &
uas=$!
sleep 1
(cd "$work" && sipp -sn uac -t t1 -i 127.0.0.1 -s 4791234567 -m 3 -r 10 -nostdin \
  "127.0.0.1:$port" >/dev/null 2>&1) || true
sleep 1
kill "$uas" 2>/dev/null || true
kill %1 2>/dev/null || true
wait %1 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
