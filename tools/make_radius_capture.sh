#!/usr/bin/env bash
# Capture a real EAP-SIM exchange over RADIUS on loopback:
# tests/data/radius/eapsim_freeradius.pcap. wpa_supplicant's eapol_test (Debian eapoltest)
# is the access point and the peer, FreeRADIUS 3 (Debian freeradius, rlm_eap_sim) the AAA
# server with three triplets for the test subscriber. Needs root (tcpdump -i lo).
# The identity is the EAP-SIM permanent NAI of a test subscriber (MCC 001 MNC 01, the test
# network; TS 23.003 19.3). The server asks for it again (AT_FULLAUTH_ID_REQ) and gets it in
# AT_IDENTITY; Debian's eapol_test has no GSM algorithm to answer the challenge with, so the
# exchange ends in Client-Error and Access-Reject: only the cleartext identities matter.
set -euo pipefail
out=${1:-tests/data/radius/eapsim_freeradius.pcap}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
imsi=001010000012345
identity="1${imsi}@wlan.mnc001.mcc001.3gppnetwork.org"
# The registered port if it is free (the capture then reads as RADIUS everywhere), else a
# free one below 1024 (a flow's server side is the one on a low port).
port=$(python3 - <<'PY'
import socket
for port in (1812, *range(1023, 900, -1)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
PY
)

cp -a /etc/freeradius/3.0 "$work/raddb"
raddb="$work/raddb"
rm -f "$raddb"/sites-enabled/* "$raddb"/mods-enabled/eap
sed -i -E 's/^[[:space:]]*(user|group) = .*$//' "$raddb/radiusd.conf"  # stay root: $work is private
cat > "$raddb/sites-enabled/sim" <<EOF
server default {
    listen {
        type = auth
        ipaddr = 127.0.0.1
        port = $port
    }
    authorize {
        files
        eap {
            ok = return
        }
    }
    authenticate {
        eap
    }
    post-auth {
    }
}
EOF
cat > "$raddb/mods-enabled/eap" <<EOF
eap {
    default_eap_type = sim
    timer_expire = 60
    max_sessions = 16
    sim {
    }
}
EOF
triplets=""
for i in 1 2 3; do
  triplets+="EAP-Sim-Rand$i := 0x$(printf "%02x" $i)$(printf "%02x" $i)$(printf '0%.0s' {1..28}), "
  triplets+="EAP-Sim-SRES$i := 0x0000000$i, EAP-Sim-KC$i := 0x000000000000000$i, "
done
triplets=${triplets%, }
printf '"%s" Cleartext-Password := "unused", EAP-Type := SIM, %s\n' "$identity" "$triplets" \
  > "$raddb/mods-config/files/authorize"
freeradius -f -d "$raddb" -l "$work/radius.log" &
tcpdump -i lo -U -w "$work/cap.pcap" "udp port $port" 2>/dev/null &
sleep 2
cat > "$work/sim.conf" <<EOF
network={
    ssid="carrier"
    key_mgmt=WPA-EAP
    eap=SIM
    identity="$identity"
}
EOF
eapol_test -c "$work/sim.conf" -a 127.0.0.1 -p "$port" -s testing123 \
  -M 20:39:56:5c:7a:13 -N 30:s:74-83-C2-10-20-30:carrier -r 0 >"$work/eapol.log" 2>&1 \
  || true
sleep 1
kill %2 2>/dev/null || true
wait %2 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
