"""SSH: identification and KEXINIT read, algorithm names never taken for identifiers.

The real capture is an OpenSSH 9.2 client and server on loopback
(tools/make_ssh_capture.sh); the hand-built packets follow RFC 4253 sections 4.2, 6 and 7.1.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from click.testing import CliRunner

from phonehome.cli import main
from phonehome.protocols.ssh import SshHello
from tests import tshark

from .test_protocols_tcp_session import Run

CAPTURE = Path(__file__).parent / "data" / "ssh" / "openssh_loopback.pcap"
KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org")


def name_list(names: tuple[str, ...]) -> bytes:
    text = ",".join(names).encode()
    return struct.pack("!I", len(text)) + text


def kexinit(kex: tuple[str, ...] = KEX, padding: int = 4) -> bytes:
    lists = [kex, ("ssh-ed25519",), ("aes128-ctr",), ("aes128-ctr",), ("hmac-sha2-256",),
             ("hmac-sha2-256",), ("none",), ("none",), (), ()]  # fmt: skip
    payload = bytes([20]) + bytes(16) + b"".join(name_list(n) for n in lists) + b"\0" + bytes(4)
    body = bytes([padding]) + payload + bytes(padding)
    return struct.pack("!I", len(body)) + body


def test_both_sides_identified_then_the_flow_is_done() -> None:
    r = Run(2222)
    r.c(b"SSH-2.0-phone_1.0 build42\r\n").s(b"SSH-2.0-OpenSSH_9.6\r\n")
    r.c(kexinit()).s(kexinit())
    assert r.session.done
    got = r.contents()
    assert [(fc, m.ident) for fc, m in got if isinstance(m, SshHello)] == [
        (True, "SSH-2.0-phone_1.0 build42"),
        (False, "SSH-2.0-OpenSSH_9.6"),
    ]
    hello = got[0][1]
    assert isinstance(hello, SshHello) and hello.complete
    assert hello.kex == KEX and hello.host_key == ("ssh-ed25519",)
    assert hello.ciphers == ("aes128-ctr",) and hello.macs == ("hmac-sha2-256",)
    assert r.session.protocol == "ssh"


def test_a_server_speaking_first_with_lines_before_its_identification() -> None:
    r = Run(22)
    r.s(b"SSH-2.0-dropbear_2022.83\r\n")
    r.c(b"SSH-2.0-client\r\n" + kexinit()).s(kexinit())
    assert [m.ident for _, m in r.contents() if isinstance(m, SshHello)] == [
        "SSH-2.0-client",
        "SSH-2.0-dropbear_2022.83",
    ]


def test_a_damaged_packet_keeps_the_identification_and_counts_it() -> None:
    r = Run(22)
    r.c(b"SSH-2.0-x\r\n" + struct.pack("!I", 1 << 30) + b"junk")
    got = r.contents()
    assert got == [(True, SshHello("SSH-2.0-x"))]
    assert r.ctx.anomalies.counts["ssh.bad_packet"] == 1


def test_split_into_single_bytes() -> None:
    data = b"SSH-2.0-phone\r\n" + kexinit()
    r = Run(22)
    for i in range(len(data)):
        r.c(data[i : i + 1])
    (p,) = r.close()
    assert isinstance(p.content, SshHello) and p.content.complete and p.frame == 1


def test_real_openssh_exchange_in_flows_as_tshark_decodes_it() -> None:
    res = CliRunner().invoke(main, ["flows", "--format", "jsonl", str(CAPTURE)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    ssh = [x for x in lines if x["protocol"] == "ssh"]
    assert len(ssh) == 2 and {x["direction"] for x in ssh} == {"out", "in"}
    port = ssh[0]["dport"] if ssh[0]["direction"] == "out" else ssh[0]["sport"]
    rows = tshark.fields(
        CAPTURE,
        "ssh.protocol",
        "ssh.kex_algorithms",
        display_filter="ssh",
        decode_as={f"tcp.port=={port}": "ssh"},
    )
    idents = sorted(r[0] for r in rows if r[0])
    kexes = sorted(r[1] for r in rows if r[1])
    assert sorted(x["ssh_ident"] for x in ssh) == idents
    assert sorted(",".join(x["kex"]) for x in ssh) == kexes
    assert not [x for x in lines if x["protocol"] == "tcp" and x["length"]]


def test_algorithm_names_are_not_email_addresses() -> None:
    """The RFC 4250 ``name@domain`` algorithm names were reported as e-mails when SSH
    was a raw payload; as SSH only the identification is searched."""
    res = CliRunner().invoke(main, ["scan", "--no-store", "--format", "json", str(CAPTURE)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"] == []
