"""SMTP over implicit TLS (RFC 8314 "submissions", port 465), read with the key log.

A real TLS 1.3 session on loopback (``tools/make_smtp_tls_capture.sh``: Python's smtplib
client, the stdlib's smtpd server behind a Python ssl listener): the server's ``220``
greeting comes first inside TLS, then EHLO, MAIL FROM with SIZE and BODY parameters, RCPT
TO, DATA with a Subject. The decrypted stream is recognised as SMTP by content (the
greeting says SMTP), as on a cleartext connection; the port is never asked.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from phonehome.cli import main
from phonehome.cli.options import make_context
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols.smtp import SmtpMail, SmtpReply
from tests.needs import need_tool

DATA = Path(__file__).parent / "data" / "smtp"
CAPTURE = DATA / "submissions_tls.pcap"
KEYS = DATA / "submissions_tls.keys"
SERIAL = "DS2CD2143G0I20200515"
MAC = "a4:14:37:5e:21:9c"


def _tshark(*fields: str) -> list[list[str]]:
    tshark = need_tool("tshark")
    args = [tshark, "-r", str(CAPTURE), "-o", f"tls.keylog_file:{KEYS}", "-Y", "smtp || imf"]
    for f in ("frame.number", *fields):
        args += ["-e", f]
    out = subprocess.run([*args, "-T", "fields"], capture_output=True, text=True, check=True)
    return [line.split("\t") for line in out.stdout.splitlines()]


def test_the_decrypted_stream_on_465_is_smtp_and_agrees_with_tshark() -> None:
    ctx = make_context((), (), (KEYS,))
    msgs = list(iter_messages(open_all([str(CAPTURE)]), ctx))
    assert msgs[0].protocol == "tls"  # the ClientHello, in clear
    smtp = [m for m in msgs if m.protocol == "smtp"]
    assert smtp and {m.readability for m in smtp} == {"decrypted"}
    assert all(m.flow.server.port == 465 for m in smtp)
    (mail,) = [m for m in smtp if isinstance(m.content, SmtpMail)]
    replies = [m for m in smtp if isinstance(m.content, SmtpReply)]
    assert mail.direction == "out" and isinstance(mail.content, SmtpMail)
    rows = _tshark("smtp.req.command", "smtp.req.parameter", "smtp.response.code", "imf.subject")
    commands = {r[1].upper(): r[2] for r in rows if r[1]}
    assert mail.content.helo == commands["EHLO"] == "IPC-a414375e219c"
    assert mail.content.mail_from == commands["MAIL"].partition("<")[2].partition(">")[0]
    assert mail.content.rcpt_to == (commands["RCPT"].partition("<")[2].rstrip(">"),)
    assert [mail.content.subject()] == [r[4] for r in rows if r[4]]
    assert mail.content.subject() == f"Motion alarm, camera serial {SERIAL}"
    assert mail.content.complete
    # The greeting first, in the frame tshark shows it: recognised by its content.
    first = replies[0]
    assert isinstance(first.content, SmtpReply) and first.content.code == 220
    codes = {int(r[0]): r[3].split(",")[0] for r in rows if r[3]}
    assert min(codes) == first.frame and codes[first.frame] == "220"
    got = [(m.frame, str(m.content.code)) for m in replies if isinstance(m.content, SmtpReply)]
    assert all(codes[frame] == code for frame, code in got)
    # tshark shows the EHLO reply's continuation lines (another frame) as a reply of their own
    assert len(got) == len(codes) - 1


def test_scan_finds_the_mac_serial_and_addresses_inside_implicit_tls(tmp_path: Path) -> None:
    profile = tmp_path / "camera.device.toml"
    profile.write_text(f'name = "camera"\nmac = "{MAC}"\nserial = "{SERIAL}"\n')
    report = tmp_path / "scan.json"
    args = [str(CAPTURE), "--keylog", str(KEYS), "--device", str(profile), "--reveal"]
    res = CliRunner().invoke(
        main, ["scan", *args, "--format", "json", "-o", str(report), "--no-store"]
    )
    assert res.exit_code == 1, res.output
    found = json.loads(report.read_text())["findings"]
    got = {(f["identifier"], f["where"]) for f in found}
    assert ("serial", "smtp.header:Subject") in got
    assert ("mac", "smtp.helo") in got
    assert ("email", "smtp.rcpt_to") in got
    assert {f["readability"] for f in found} == {"decrypted"}
    # SIZE= and BODY= on MAIL FROM are protocol, not identities: no field of them
    assert not [f for f in found if f["where"].startswith("smtp.mail_from:")]
