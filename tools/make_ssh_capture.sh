#!/usr/bin/env bash
# Capture a real OpenSSH key exchange on loopback: tests/data/ssh/openssh_loopback.pcap.
# Needs root (tcpdump -i lo), openssh-server and openssh-client. The client's login fails
# on purpose (no key is accepted): only the cleartext identification and KEXINIT matter.
set -euo pipefail
out=${1:-tests/data/ssh/openssh_loopback.pcap}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f /dev/null -h "$work/host_key" -p "$port" -o ListenAddress=127.0.0.1 \
  -o PidFile="$work/sshd.pid" -o UsePAM=no 2>"$work/sshd.log" &
tcpdump -i lo -U -w "$work/cap.pcap" "tcp port $port" 2>/dev/null &
sleep 1
ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o PreferredAuthentications=publickey -i /dev/null -p "$port" nobody@127.0.0.1 true \
  >/dev/null 2>&1 || true
sleep 1
kill %2 2>/dev/null || true
wait %2 2>/dev/null || true
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
