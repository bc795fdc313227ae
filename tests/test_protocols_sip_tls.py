"""SIP over TLS, read with the session's key log: a real TLS 1.3 session on loopback
(OpenSSL's s_server, Python's ssl client; ``tools/make_sip_tls_capture.sh``) carrying a
REGISTER with an IMS identity made of the IMSI and an IMEI URN, as a VoLTE/VoWiFi client
sends it. The decrypted stream is recognised as SIP by content, like any TCP stream."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from phonehome.cli import main
from phonehome.cli.options import make_context
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols.sip import SipMessage
from tests.needs import need_tool

DATA = Path(__file__).parent / "data" / "sip"
CAPTURE = DATA / "register_tls.pcap"
KEYS = DATA / "register_tls.keys"
IMSI = "242010676851628"


def test_the_decrypted_register_is_read_as_sip_and_agrees_with_tshark() -> None:
    ctx = make_context((), (), (KEYS,))
    sip = [m for m in iter_messages(open_all([str(CAPTURE)]), ctx) if m.protocol == "sip"]
    assert len(sip) == 1
    msg = sip[0]
    assert msg.readability == "decrypted" and msg.direction == "out"
    assert isinstance(msg.content, SipMessage)
    need_tool("tshark")
    out = subprocess.run(
        ["tshark", "-r", str(CAPTURE), "-o", f"tls.keylog_file:{KEYS}", "-Y", "sip",
         "-T", "fields", "-e", "frame.number", "-e", "sip.Method", "-e", "sip.from.user"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out == [str(msg.frame), msg.content.method, IMSI]


def test_scan_finds_the_imsi_and_imei_inside_tls_and_dismisses_nothing(tmp_path: Path) -> None:
    report = tmp_path / "scan.json"
    args = [str(CAPTURE), "--keylog", str(KEYS), "--format", "json", "--reveal"]
    res = CliRunner().invoke(main, ["scan", *args, "-o", str(report), "--no-store"])
    assert res.exit_code == 1, res.output
    doc = json.loads(report.read_text())
    got = sorted((f["identifier"], f["value"], f["where"]) for f in doc["findings"])
    assert got == [
        ("imei", "356759041234569", "sip.header:Contact.+sip.instance"),
        ("imsi", IMSI, "sip.uri:From"),
        ("imsi", IMSI, "sip.uri:To"),
    ]
    assert {f["readability"] for f in doc["findings"]} == {"decrypted"}
    assert doc["not_identifiers"] == []  # the IMSI (MCC 242) is no EAP pseudonym
