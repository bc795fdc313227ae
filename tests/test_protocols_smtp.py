"""SMTP: envelope, AUTH names without passwords, headers and MIME parts, STARTTLS, bounds.

The hand-built sessions follow RFC 5321 (commands, replies, dot-stuffing), RFC 4954 (AUTH
PLAIN and LOGIN), RFC 3207 (STARTTLS), RFC 2045/2046/2047 (MIME, encoded-words); the
real capture is DARPA 1999 Sendmail traffic (tests/shared/README.md), read against tshark.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.model import Field
from phonehome.model.anomaly import Anomalies
from phonehome.model.message import RawPayload, TlsClientHello
from phonehome.protocols import mime
from phonehome.protocols.smtp import (
    MAX_DATA,
    MAX_LINE,
    MAX_QUERIES,
    MAX_RCPT,
    SmtpMail,
    SmtpReply,
)
from phonehome.simulate.packets import Host, TcpConnection
from phonehome.simulate.pcap_writer import PcapWriter
from tests import tshark
from tests.builders_mobile import by_where
from tests.builders_mobile import fields as content_fields
from tests.conftest import SHARED

from .test_protocols_tcp_session import Run, client_hello_record

CAPTURE = SHARED / "fixtures" / "mobile" / "smtp_real_emails.pcap"
GREETING = b"220 mail.example.net ESMTP Postfix\r\n"
EHLO_REPLY = b"250-mail.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"
PASSWORD = "s3cret-Pa55"


def mails(r: Run) -> list[SmtpMail]:
    return [m for fc, m in r.contents() if fc and isinstance(m, SmtpMail)]


def fields(mail: SmtpMail) -> dict[str, list[str]]:
    return {
        w: [f.text for f in fs] for w, fs in by_where(content_fields(mail, "smtp", "tcp")).items()
    }


def all_text(found: list[Field]) -> str:
    return "\n".join(f.text for f in found)


def session(r: Run, *exchanges: tuple[bytes, bytes]) -> Run:
    """Greeting, then each (client bytes, server reply) in turn."""
    r.s(GREETING)
    for client, server in exchanges:
        r.c(client)
        if server:
            r.s(server)
    return r


ALERT = (
    b"From: Camera <cam@example.com>\r\n"
    b"To: owner@example.org\r\n"
    b"Subject: Motion detected\r\n"
    b"X-Mailer: IPCam 2.1\r\n"
    b"\r\n"
    b"Camera SN: ZX9081726354 detected motion.\r\n"
)


def test_a_mail_transaction_gives_envelope_headers_and_body() -> None:
    r = session(
        Run(25),
        (b"EHLO cam-a4b1c2d3e4f5\r\n", EHLO_REPLY),
        (b"MAIL FROM:<cam@example.com> SIZE=300\r\n", b"250 2.1.0 Ok\r\n"),
        (b"RCPT TO:<owner@example.org>\r\n", b"250 2.1.5 Ok\r\n"),
        (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (ALERT + b".\r\n", b"250 2.0.0 Ok: queued\r\n"),
        (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    )
    (mail,) = mails(r)
    assert mail.helo == "cam-a4b1c2d3e4f5" and mail.complete
    assert mail.mail_from == "cam@example.com" and mail.rcpt_to == ("owner@example.org",)
    assert mail.subject() == "Motion detected"
    assert [(p.section, p.media) for p in mail.parts] == [("", "text/plain")]
    got = fields(mail)
    assert got["smtp.helo"] == ["cam-a4b1c2d3e4f5"]
    assert got["smtp.mail_from"] == ["cam@example.com"]
    assert got["smtp.rcpt_to"] == ["owner@example.org"]
    assert got["smtp.header:Subject"] == ["Motion detected"]
    assert got["smtp.header:X-Mailer"] == ["IPCam 2.1"]
    assert got["smtp.body"] == ["Camera SN: ZX9081726354 detected motion.\r\n"]
    assert r.session.protocol == "smtp"
    replies = [p.content for p in r.out if not p.from_client]
    assert replies[0] == SmtpReply(220, "mail.example.net ESMTP Postfix")
    assert replies[1] == SmtpReply(250, "mail.example.net\nPIPELINING\nAUTH PLAIN LOGIN\nSTARTTLS")


def test_auth_plain_keeps_the_user_and_never_the_password() -> None:
    token = base64.b64encode(f"\0camera@example.com\0{PASSWORD}".encode())
    r = session(
        Run(587),
        (b"EHLO cam\r\n", EHLO_REPLY),
        (b"AUTH PLAIN " + token + b"\r\n", b"235 2.7.0 Authentication successful\r\n"),
        (b"MAIL FROM:<camera@example.com>\r\n", b"250 Ok\r\n"),
        (b"QUIT\r\n", b"221 Bye\r\n"),
    )
    (mail,) = mails(r)
    assert mail.auth == ("camera@example.com",)
    found = content_fields(mail, "smtp", "tcp")
    assert [f.text for f in found if f.where == "smtp.auth"] == ["camera@example.com"]
    assert PASSWORD not in repr(mail) and PASSWORD not in all_text(found)
    assert token.decode() not in all_text(found)


def test_auth_plain_as_a_continuation_with_an_authorisation_id() -> None:
    token = base64.b64encode(f"admin\0cam01\0{PASSWORD}".encode())
    r = session(
        Run(587),
        (b"EHLO cam\r\n", EHLO_REPLY),
        (b"AUTH PLAIN\r\n", b"334 \r\n"),
        (token + b"\r\n", b"235 Ok\r\n"),
        (b"QUIT\r\n", b""),
    )
    (mail,) = mails(r)
    assert mail.auth == ("admin", "cam01")
    assert PASSWORD not in all_text(content_fields(mail, "smtp", "tcp"))


def test_auth_login_user_found_password_absent() -> None:
    user = base64.b64encode(b"dvr-00:11:22:33:44:55@example.com")
    secret = base64.b64encode(PASSWORD.encode())
    r = session(
        Run(25),
        (b"EHLO dvr\r\n", EHLO_REPLY),
        (b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n"),
        (user + b"\r\n", b"334 UGFzc3dvcmQ6\r\n"),
        (secret + b"\r\n", b"235 Ok\r\n"),
        (b"MAIL FROM:<dvr@example.com>\r\n", b"250 Ok\r\n"),
        (b"QUIT\r\n", b""),
    )
    (mail,) = mails(r)
    assert mail.auth == ("dvr-00:11:22:33:44:55@example.com",)
    text = all_text(content_fields(mail, "smtp", "tcp"))
    assert PASSWORD not in text and secret.decode() not in text and PASSWORD not in repr(mail)
    assert mail.mail_from == "dvr@example.com"  # the exchange ended: commands again


def test_auth_login_with_the_user_as_initial_response_and_no_server_side() -> None:
    user = base64.b64encode(b"nas01")
    secret = base64.b64encode(PASSWORD.encode())
    r = Run(25)
    r.c(b"EHLO nas\r\nAUTH LOGIN " + user + b"\r\n" + secret + b"\r\nMAIL FROM:<n@x.org>\r\n")
    (mail,) = mails(r)
    assert mail.auth == ("nas01",) and mail.mail_from == "n@x.org"
    assert PASSWORD not in repr(mail)


def test_mail_parameters_that_name_someone_are_fields_with_xtext_decoded() -> None:
    r = session(
        Run(587),
        (b"EHLO cam\r\n", EHLO_REPLY),
        (
            b"MAIL FROM:<cam@example.com> SIZE=300 BODY=8BITMIME RET=HDRS"
            b" AUTH=cam+2Bsn+3DZX9081726354@example.com ENVID=alarm-a4b1c2d3e4f5+2B1\r\n",
            b"250 Ok\r\n",
        ),
        (
            b"RCPT TO:<owner@example.org> NOTIFY=SUCCESS,FAILURE"
            b" ORCPT=rfc822;Owner+2Bhome@example.org\r\n",
            b"250 Ok\r\n",
        ),
        (b"RCPT TO:<b@example.org> ORCPT=utf-8;J\\x{FC}rgen@example.org\r\n", b"250 Ok\r\n"),
        (b"RCPT TO:<c@example.org>\r\n", b"250 Ok\r\n"),
        (b"QUIT\r\n", b""),
    )
    (mail,) = mails(r)
    assert mail.mail_from == "cam@example.com"  # the envelope address as before
    assert mail.rcpt_to == ("owner@example.org", "b@example.org", "c@example.org")
    assert mail.mail_params == (
        ("AUTH", "cam+sn=ZX9081726354@example.com"), ("ENVID", "alarm-a4b1c2d3e4f5+1"),
    )  # fmt: skip
    assert mail.rcpt_params == (
        ("ORCPT", "Owner+home@example.org"),
        ("ORCPT", "Jürgen@example.org"),
    )
    got = fields(mail)
    assert got["smtp.mail_from"] == ["cam@example.com"]
    assert got["smtp.mail_from:AUTH"] == ["cam+sn=ZX9081726354@example.com"]
    assert got["smtp.mail_from:ENVID"] == ["alarm-a4b1c2d3e4f5+1"]
    assert got["smtp.rcpt_to:ORCPT"] == ["Owner+home@example.org", "Jürgen@example.org"]
    # SIZE, BODY, RET and NOTIFY are protocol: no field, and not in any field's text
    assert not [w for w in got if w.split(":")[-1] in ("SIZE", "BODY", "RET", "NOTIFY")]
    assert "8BITMIME" not in all_text(content_fields(mail, "smtp", "tcp"))


@pytest.mark.parametrize(
    ("line", "params"),
    [
        (b"MAIL FROM:<> AUTH=<>", ()),  # a bounce, no identity
        (b"MAIL FROM:<a@x.org> AUTH=<sub@x.org>", (("AUTH", "sub@x.org"),)),
        (b"MAIL FROM:a@x.org auth=u+", (("AUTH", "u+"),)),  # a lone '+' is not an escape
        (b"MAIL FROM:<a@x.org> ENVID=one ENVID=two AUTH", (("ENVID", "one"),)),
        (b"MAIL FROM:<a@x.org> ENVID=+ZZ+4", (("ENVID", "+ZZ+4"),)),
        (b"MAIL FROM:<a@x.org> ORCPT=rfc822;x@y.org", ()),  # ORCPT belongs to RCPT
    ],
)
def test_mail_parameter_edge_cases(line: bytes, params: tuple[tuple[str, str], ...]) -> None:
    r = Run(25)
    r.c(b"EHLO x\r\n" + line + b"\r\nQUIT\r\n")
    (mail,) = mails(r)
    assert mail.mail_params == params


def test_vrfy_and_expn_arguments_are_fields() -> None:
    r = session(
        Run(25),
        (b"EHLO nas\r\n", EHLO_REPLY),
        (b"VRFY admin-00:11:22:33:44:55\r\n", b"252 2.0.0 Cannot VRFY user\r\n"),
        (b"VRFY <root@nas.example.org> SMTPUTF8\r\n", b"252 2.0.0 Ok\r\n"),
        (b"EXPN family-list\r\n", b"502 5.5.2 not implemented\r\n"),
        (b"VRFY\r\n", b"501 Syntax\r\n"),
        (b"QUIT\r\n", b"221 Bye\r\n"),
    )
    (mail,) = mails(r)  # no MAIL: the session still gives one record
    assert mail.vrfy == ("admin-00:11:22:33:44:55", "root@nas.example.org")
    assert mail.expn == ("family-list",)
    got = fields(mail)
    assert got["smtp.vrfy"] == ["admin-00:11:22:33:44:55", "root@nas.example.org"]
    assert got["smtp.expn"] == ["family-list"]
    assert r.ctx.anomalies.counts.get("smtp.bad_command", 0) == 0


def test_endless_vrfy_is_bounded() -> None:
    r = Run(25)
    r.c(b"EHLO x\r\n" + b"".join(b"VRFY user%d\r\n" % i for i in range(MAX_QUERIES + 7)))
    (mail,) = mails(r)
    assert len(mail.vrfy) == MAX_QUERIES and mail.vrfy[-1] == f"user{MAX_QUERIES - 1}"
    assert r.ctx.anomalies.counts["smtp.query_limit"] == 7


MULTIPART = (
    b"From: =?UTF-8?B?S2FtZXJhIEvDvGNoZQ==?= <cam@example.com>\r\n"
    b"Subject: =?ISO-8859-1?Q?Bewegung_erkannt_=E0_AA:BB:CC:DD:EE:FF?=\r\n"
    b"Message-ID: <20260101.a4b1c2@cam>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="OUTER"\r\n'
    b"\r\n"
    b"This is a multi-part message in MIME format.\r\n"
    b"--OUTER\r\n"
    b'Content-Type: multipart/alternative; boundary="INNER"\r\n'
    b"\r\n"
    b"--INNER\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Serien=3Dnummer: QX77=\r\n"
    b"12345 K=C3=BCche\r\n"
    b"--INNER\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(b"<p>Location 59.9139,10.7522</p>").replace(b"\n", b"\r\n")
    + b"--INNER--\r\n"
    b"--OUTER\r\n"
    b'Content-Type: image/jpeg; name="snap_AABBCCDDEEFF.jpg"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="snap_AABBCCDDEEFF.jpg"\r\n'
    b"\r\n"
    + base64.encodebytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4).replace(b"\n", b"\r\n")
    + b"--OUTER--\r\n"
)


def test_mime_parts_base64_quoted_printable_rfc2047_and_a_named_snapshot() -> None:
    r = session(
        Run(25),
        (b"EHLO cam\r\nMAIL FROM:<cam@example.com>\r\nRCPT TO:<o@example.org>\r\nDATA\r\n", b""),
    )
    r.s(b"250-x\r\n250 PIPELINING\r\n250 Ok\r\n250 Ok\r\n354 go\r\n")
    r.c(MULTIPART + b".\r\n")
    (mail,) = mails(r)
    assert mail.subject() == "Bewegung erkannt à AA:BB:CC:DD:EE:FF"
    assert mime.header_value(mail.headers, "from") == "Kamera Küche <cam@example.com>"
    assert [(p.section, p.media, p.name) for p in mail.parts] == [
        ("1.1", "text/plain", ""),
        ("1.2", "text/html", ""),
        ("2", "image/jpeg", "snap_AABBCCDDEEFF.jpg"),
    ]
    got = fields(mail)
    assert got["smtp.body:part[1.1]"] == ["Serien=nummer: QX7712345 Küche"]
    assert got["smtp.body:part[1.2]"] == ["<p>Location 59.9139,10.7522</p>"]
    assert got["smtp.attachment:part[2]"] == ["snap_AABBCCDDEEFF.jpg"]
    assert "smtp.body:part[2]" not in got  # the JPEG is named, not read as text
    assert mail.parts[2].text == "" and mail.parts[2].size == 1028
    assert "smtp.header:Content-Type" not in got and "smtp.header:MIME-Version" not in got
    assert got["smtp.header:Message-ID"] == ["<20260101.a4b1c2@cam>"]


BOUNCE = (
    b"From: MAILER-DAEMON@mx.example.net\r\n"
    b"To: cam@example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n'
    b"\r\n"
    b"--R\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Your message could not be delivered.\r\n"
    b"--R\r\n"
    b"Content-Type: message/delivery-status\r\n"
    b"\r\n"
    b"Reporting-MTA: dns; mx.example.net\r\n"
    b"\r\n"
    b"Final-Recipient: rfc822; owner-a4b1c2@example.org\r\n"
    b"Action: failed\r\n"
    b"\r\n"
    b"--R\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: Camera <cam@example.com>\r\n"
    b"Subject: =?UTF-8?Q?Alarm_ZX9081726354?=\r\n"
    b"Content-Type: multipart/alternative; boundary=A\r\n"
    b"\r\n"
    b"--A\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Location 59.9139,10.7522\r\n"
    b"--A\r\n"
    b"Content-Type: text/html\r\n"
    b'Content-Disposition: inline; filename="alarm.html"\r\n'
    b"\r\n"
    b"<p>IMEI 490154203237518</p>\r\n"
    b"--A--\r\n"
    b"--R\r\n"
    b"Content-Type: text/rfc822-headers\r\n"
    b"\r\n"
    b"Message-ID: <a4b1c2.7@cam>\r\n"
    b"Subject: Alarm\r\n"
    b"--R--\r\n"
)


def test_a_bounce_walks_the_returned_message_and_its_delivery_status() -> None:
    r = Run(25)
    r.c(b"EHLO mx\r\nMAIL FROM:<>\r\nRCPT TO:<cam@example.com>\r\nDATA\r\n" + BOUNCE + b".\r\n")
    (mail,) = mails(r)
    assert [(p.section, p.media, p.name) for p in mail.parts] == [
        ("1", "text/plain", ""),
        ("2", "message/delivery-status", ""),
        ("3.1", "text/plain", ""),
        ("3.2", "text/html", "alarm.html"),
        ("4", "text/rfc822-headers", ""),
    ]
    assert [s for s, _ in mail.embedded] == ["2", "3", "4"]
    got = fields(mail)
    assert got["smtp.header:Subject"] == ["Undelivered Mail Returned to Sender"]
    # The returned message's headers under its part, its parts numbered below it (IMAP)
    assert got["smtp.header:part[3]>Subject"] == ["Alarm ZX9081726354"]
    assert got["smtp.header:part[3]>From"] == ["Camera <cam@example.com>"]
    assert "smtp.header:part[3]>Content-Type" not in got
    assert got["smtp.body:part[3.1]"] == ["Location 59.9139,10.7522"]
    assert got["smtp.body:part[3.2]"] == ["<p>IMEI 490154203237518</p>"]
    assert got["smtp.attachment:part[3.2]"] == ["alarm.html"]
    # Delivery status (RFC 3464) and returned headers (RFC 6522): fields, not one text
    assert got["smtp.header:part[2]>Reporting-MTA"] == ["dns; mx.example.net"]
    assert got["smtp.header:part[2]>Final-Recipient"] == ["rfc822; owner-a4b1c2@example.org"]
    assert got["smtp.header:part[4]>Message-ID"] == ["<a4b1c2.7@cam>"]
    assert got["smtp.header:part[4]>Subject"] == ["Alarm"]
    assert "smtp.body:part[2]" not in got and "smtp.body:part[4]" not in got
    assert not r.ctx.anomalies.counts


def test_a_forwarded_single_part_message_is_part_n_dot_1() -> None:
    forwarded = (
        b"Subject: Fwd: snapshot\r\n"
        b'Content-Type: multipart/mixed; boundary="F"\r\n\r\n'
        b"--F\r\n\r\nsee below\r\n"
        b"--F\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(
            b"Subject: Motion\r\nX-Device: SN-ZX9081726354\r\n\r\ncamera a4:b1:c2:d3:e4:f5\r\n"
        ).replace(b"\n", b"\r\n")
        + b"--F--\r\n"
    )
    r = Run(25)
    r.c(b"EHLO x\r\nMAIL FROM:<a@x.org>\r\nDATA\r\n" + forwarded + b".\r\n")
    (mail,) = mails(r)
    assert [p.section for p in mail.parts] == ["1", "2.1"]
    got = fields(mail)
    assert got["smtp.header:part[2]>X-Device"] == ["SN-ZX9081726354"]
    assert got["smtp.body:part[2.1]"] == ["camera a4:b1:c2:d3:e4:f5\r\n"]
    assert got["smtp.header:Subject"] == ["Fwd: snapshot"]


def test_a_message_that_is_the_whole_body_is_part_1() -> None:
    body = b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nSN ZX1\r\n"
    parsed = mime.parse(body)
    assert parsed.messages == [("1", (("Subject", "inner"),))]
    assert [(p.section, p.text) for p in parsed.parts] == [("1.1", "SN ZX1\r\n")]


def test_a_header_block_that_is_not_fields_is_read_as_text() -> None:
    body = (
        b'Content-Type: multipart/report; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nnot a header at all\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Final-Recipient: rfc822; x@y.org\r\n\r\n-- trailing junk ZX1 --\r\n"
        b"--R--\r\n"
    )
    parsed = mime.parse(body)
    assert parsed.messages == [("2", (("Final-Recipient", "rfc822; x@y.org"),))]
    assert [(p.section, p.text) for p in parsed.parts] == [
        ("1", "not a header at all"),
        ("2", "-- trailing junk ZX1 --"),  # what is not fields is kept: cut, not hidden
    ]


def test_delivery_status_blocks_past_the_header_bound_stay_as_text() -> None:
    # LF-only empty lines between blocks; one recipient block per field, more than the bound
    blocks = b"".join(b"Final-Recipient: rfc822; r%d@y.org\n\n" % i for i in range(300))
    parsed = mime.parse(b"Content-Type: message/delivery-status\n\n" + blocks)
    ((section, fields),) = parsed.messages
    assert section == "1" and len(fields) == mime.MAX_HEADERS
    assert fields[-1] == ("Final-Recipient", f"rfc822; r{mime.MAX_HEADERS - 1}@y.org")
    (part,) = parsed.parts
    assert part.text.startswith(f"Final-Recipient: rfc822; r{mime.MAX_HEADERS}@y.org")
    assert "r299@y.org" in part.text  # cut, not hidden
    assert ("header_limit", f"more than {mime.MAX_HEADERS} header fields") in parsed.problems


def test_messages_nested_in_messages_are_bounded_by_the_depth_limit() -> None:
    depth = mime.MAX_DEPTH + 3
    body = b"".join(
        b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % i for i in range(depth)
    )
    body += b"Subject: innermost\r\n\r\nSN ZX9081726354\r\n"
    r = Run(25)
    r.c(b"EHLO x\r\nMAIL FROM:<a@x.org>\r\nDATA\r\n" + body + b".\r\n")
    (mail,) = mails(r)
    assert len(mail.embedded) == mime.MAX_DEPTH
    assert [s for s, _ in mail.embedded][:3] == ["1", "1.1", "1.1.1"]
    assert mail.embedded[1][1] == (("Subject", "level 2"), ("Content-Type", "message/rfc822"))
    assert fields(mail)["smtp.header:part[1.1]>Subject"] == ["level 2"]
    assert r.ctx.anomalies.counts["smtp.mime_depth"] == 1
    assert "SN ZX9081726354" in all_text(content_fields(mail, "smtp", "tcp"))  # cut, not hidden


def test_messages_inside_multiparts_share_one_depth_limit() -> None:
    inner = b"Content-Type: text/plain\r\n\r\nSN ZX1\r\n"
    for i in range(mime.MAX_DEPTH + 2):
        if i % 2:
            inner = b"Content-Type: message/rfc822\r\n\r\nSubject: m%d\r\n" % i + inner
        else:
            inner = (
                b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                + inner
                + b"\r\n--b%d--\r\n" % i
            )
    parsed = mime.parse(inner)
    assert ("mime_depth", f"multiparts or messages nested deeper than {mime.MAX_DEPTH}") in (
        parsed.problems
    )
    assert any("SN ZX1" in p.text for p in parsed.parts)


def test_dot_stuffing_is_undone_and_only_a_lone_dot_ends_the_data() -> None:
    body = b"Subject: dots\r\n\r\n..leading dot\r\n.\t\r\n...\r\nlast\r\n"
    r = session(Run(25), (b"HELO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", b""))
    r.c(body + b".\r\n")
    (mail,) = mails(r)
    assert mail.complete
    assert mail.parts[0].text == ".leading dot\r\n\t\r\n..\r\nlast\r\n"


def test_pipelined_transactions_in_one_segment_are_two_mails() -> None:
    one = b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: 1\r\n\r\nfirst\r\n.\r\n"
    two = b"MAIL FROM:<c@x.org>\r\nRCPT TO:<d@y.org>\r\nRCPT TO:<e@y.org>\r\nDATA\r\n"
    two += b"Subject: 2\r\n\r\nsecond\r\n.\r\nQUIT\r\n"
    r = session(Run(2525), (b"EHLO box\r\n" + one + two, b""))
    first, second = mails(r)
    assert (first.helo, first.mail_from, first.rcpt_to, first.subject()) == (
        "box", "a@x.org", ("b@y.org",), "1",
    )  # fmt: skip
    assert (second.helo, second.mail_from, second.rcpt_to, second.subject()) == (
        "", "c@x.org", ("d@y.org", "e@y.org"), "2",
    )  # fmt: skip
    assert first.complete and second.complete


def test_a_session_split_into_single_bytes() -> None:
    data = b"EHLO cam\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n" + ALERT + b".\r\n"
    r = Run(25)
    r.s(GREETING)
    for i in range(len(data)):
        r.c(data[i : i + 1])
    (mail,) = mails(r)
    assert mail.complete and mail.subject() == "Motion detected"
    assert mail.parts[0].text.startswith("Camera SN: ZX9081726354")


def test_a_refused_data_command_leaves_command_mode() -> None:
    r = session(
        Run(25),
        (b"EHLO x\r\nMAIL FROM:<a@x.org>\r\n", b"250 x\r\n250 Ok\r\n"),
        (b"RCPT TO:<nobody@y.org>\r\n", b"550 no such user\r\n"),
        (b"DATA\r\n", b"554 no valid recipients\r\n"),
        (b"QUIT\r\n", b"221 Bye\r\n"),
    )
    (mail,) = mails(r)
    assert not mail.complete and mail.parts == () and mail.mail_from == "a@x.org"


def test_starttls_stops_smtp_and_tls_reads_the_client_hello() -> None:
    hello = client_hello_record("smtp.example.net")
    r = session(
        Run(587),
        (b"EHLO cam-01\r\n", EHLO_REPLY),
        (b"STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n"),
        (hello, b"\x16\x03\x03\x00\x02\x02\x00"),
    )
    r.c(b"\x17\x03\x03\x00\x10" + b"MAIL FROM:<x@y>\r")
    got = r.contents()
    (mail,) = [m for _, m in got if isinstance(m, SmtpMail)]
    assert mail.helo == "cam-01" and mail.starttls and mail.mail_from == ""
    assert [m.sni for _, m in got if isinstance(m, TlsClientHello)] == ["smtp.example.net"]
    assert not [m for _, m in got if isinstance(m, SmtpMail) and m is not mail]
    assert not [m for fc, m in got if fc and isinstance(m, RawPayload)]


def test_starttls_without_the_server_side_is_seen_from_the_client_hello() -> None:
    r = Run(587)
    r.c(b"EHLO cam-02\r\nSTARTTLS\r\n").c(client_hello_record("mx.example.net"))
    got = r.contents()
    assert [m.helo for _, m in got if isinstance(m, SmtpMail)] == ["cam-02"]
    assert [m.sni for _, m in got if isinstance(m, TlsClientHello)] == ["mx.example.net"]


def test_starttls_and_the_client_hello_in_one_segment() -> None:
    r = Run(587)
    r.c(b"EHLO cam-03\r\nSTARTTLS\r\n" + client_hello_record("mx3.example.net"))
    got = r.contents()
    assert [m.helo for _, m in got if isinstance(m, SmtpMail)] == ["cam-03"]
    assert [m.sni for _, m in got if isinstance(m, TlsClientHello)] == ["mx3.example.net"]
    assert r.ctx.anomalies.counts.get("smtp.bad_command", 0) == 0


def test_a_refused_starttls_goes_on_in_clear() -> None:
    r = session(
        Run(25),
        (b"EHLO cam\r\n", EHLO_REPLY),
        (b"STARTTLS\r\n", b"454 4.7.0 TLS not available\r\n"),
        (b"MAIL FROM:<cam@x.org>\r\n", b"250 Ok\r\n"),
        (b"QUIT\r\n", b""),
    )
    (mail,) = mails(r)
    assert mail.mail_from == "cam@x.org" and not mail.starttls


def test_recognised_by_the_client_whatever_the_greeting_says() -> None:
    r = Run(10025)
    r.s(b"220 relay ready\r\n").c(b"EHLO cam\r\nMAIL FROM:<a@b.c>\r\n")
    r.s(b"250 relay\r\n250 Ok\r\n")
    got = r.contents()
    assert got[0] == (False, RawPayload(b"220 relay ready\r\n"))  # no 'SMTP' in it
    assert [m for _, m in got if isinstance(m, SmtpReply)] == [
        SmtpReply(250, "relay"),
        SmtpReply(250, "Ok"),
    ]  # the server follows the client's verdict from then on
    assert [m.mail_from for _, m in got if isinstance(m, SmtpMail)] == ["a@b.c"]


# --- hostile input: cut, counted, never raised --------------------------------------------


def test_a_long_command_line_is_dropped_and_counted() -> None:
    r = Run(25)
    r.c(b"EHLO cam\r\n").c(b"RCPT TO:<" + b"a" * (MAX_LINE + 10)).c(
        b">\r\nMAIL FROM:<ok@x.org>\r\n"
    )
    (mail,) = mails(r)
    assert mail.mail_from == "ok@x.org" and mail.rcpt_to == ()
    assert r.ctx.anomalies.counts["smtp.long_line"] == 1


def test_huge_data_is_cut_but_read_to_its_end() -> None:
    r = Run(25)
    r.c(b"EHLO cam\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: big\r\n\r\n")
    line = b"x" * 998 + b"\r\n"
    for _ in range(MAX_DATA // (len(line) * 64) + 2):
        r.c(line * 64)
    r.c(b".\r\nMAIL FROM:<next@x.org>\r\n")
    first, second = mails(r)
    assert not first.complete and first.subject() == "big"
    assert sum(p.size for p in first.parts) <= MAX_DATA
    assert second.mail_from == "next@x.org"
    assert r.ctx.anomalies.counts["smtp.data_limit"] == 1


def test_endless_recipients_are_bounded() -> None:
    r = Run(25)
    r.c(b"EHLO cam\r\nMAIL FROM:<a@x.org>\r\n" + b"RCPT TO:<r@y.org>\r\n" * (MAX_RCPT + 50))
    (mail,) = mails(r)
    assert len(mail.rcpt_to) == MAX_RCPT
    assert r.ctx.anomalies.counts["smtp.rcpt_limit"] == 50


def test_deep_mime_nesting_is_cut_and_counted() -> None:
    depth = mime.MAX_DEPTH + 4
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    body = b"Subject: deep\r\n" + head + b"Content-Type: text/plain\r\n\r\nSN ZX1\r\n"
    r = Run(25)
    r.c(b"EHLO x\r\nMAIL FROM:<a@x.org>\r\nDATA\r\n" + body + b".\r\n")
    (mail,) = mails(r)
    assert "SN ZX1" in all_text(content_fields(mail, "smtp", "tcp"))  # cut, not hidden
    assert r.ctx.anomalies.counts["smtp.mime_depth"] == 1


def test_too_many_parts_are_counted() -> None:
    parts = b"".join(b"--B\r\n\r\npart %d\r\n" % i for i in range(mime.MAX_PARTS + 10))
    body = b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts + b"--B--\r\n"
    r = Run(25)
    r.c(b"EHLO x\r\nMAIL FROM:<a@x.org>\r\nDATA\r\n" + body + b".\r\n")
    (mail,) = mails(r)
    assert len(mail.parts) == mime.MAX_PARTS
    assert r.ctx.anomalies.counts["smtp.mime_parts"] == 1


def test_binary_after_ehlo_is_given_up_as_raw() -> None:
    junk = bytes(range(1, 40)) + b"\n" + bytes(range(40, 80)) + b"\n" + b"\x00\x01\x02\n"
    r = Run(25)
    r.c(b"EHLO x\r\n").c(junk + b"imei=490154203237518")
    got = r.contents()
    assert [m.helo for _, m in got if isinstance(m, SmtpMail)] == ["x"]
    raw = [m for fc, m in got if fc and isinstance(m, RawPayload)]
    assert raw and b"imei=490154203237518" in raw[0].data
    assert r.ctx.anomalies.counts["smtp.bad_command"] == 3


def test_garbage_fed_in_every_state_never_raises() -> None:
    pieces = [
        b"EHLO \xff\xfe\r\n", b"AUTH PLAIN !!!notbase64\r\n", b"AUTH LOGIN\r\n", b"%%%\r\n",
        b"AUTH XOAUTH2 " + base64.b64encode(b"user=u@x.org\x01auth=Bearer tok\x01\x01") + b"\r\n",
        b"BDAT zz\r\n", b"BDAT 5 LAST\r\nabc", b"de", b"MAIL FROM:\r\n", b"RCPT TO:<\r\n",
        b"DATA\r\n", b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n.\r\n",
        b"DATA\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@@\r\n.\r\n",
    ]  # fmt: skip
    r = Run(25)
    r.s(GREETING)
    for p in pieces:
        r.c(p).s(b"\x00garbage\r\n")
    r.gap(True, 100).c(b"MAIL FROM:<again@x.org>\r\n")
    got = r.contents()
    found = [f for _, m in got if isinstance(m, SmtpMail) for f in content_fields(m, "smtp", "tcp")]
    assert "tok" not in [f.text for f in found]
    assert "u@x.org" in [f.text for f in found if f.where == "smtp.auth"]
    assert "again@x.org" in [m.mail_from for _, m in got if isinstance(m, SmtpMail)]
    assert r.ctx.anomalies.counts["smtp.gap"] == 1


def test_extraction_bounds_are_counted_through_the_budget() -> None:
    mail = SmtpMail("h", (), "a@x.org", tuple(f"r{i}@y.org" for i in range(1000)))
    anomalies = Anomalies()
    from phonehome.model import Endpoint, FlowKey, Message
    from phonehome.protocols.registry import message_fields

    dev, srv = Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", 25)
    flow = FlowKey("tcp", dev, srv)
    msg = Message(1.0, 0, 1, 1, flow, dev, srv, "out", "smtp", "cleartext", mail)
    assert len(list(message_fields(msg, anomalies))) == 1002


# --- the real capture, against tshark -------------------------------------------------------


def test_real_sendmail_session_as_tshark_reads_it() -> None:
    rows = tshark.fields(
        CAPTURE,
        "smtp.req.command",
        "smtp.req.parameter",
        "imf.subject",
        display_filter="smtp || imf",
    )
    params = [(r[0], r[1]) for r in rows if r[0]]
    helo = [p for c, p in params if c == "HELO"]
    mail_from = [p.partition(":")[2].strip("<>") for c, p in params if c == "MAIL"]
    rcpt = [p.partition(":")[2].strip("<>") for c, p in params if c == "RCPT"]
    subjects = [r[2] for r in rows if r[2]]
    res = CliRunner().invoke(main, ["flows", "--format", "jsonl", str(CAPTURE)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    (mail,) = [x for x in lines if x.get("smtp_from")]
    assert [mail["smtp_helo"]] == helo == ["delta.peach.mil"]
    assert [mail["smtp_from"]] == mail_from
    assert mail["smtp_to"] == rcpt and len(rcpt) == 30
    assert [mail["subject"]] == subjects
    assert {x["protocol"] for x in lines} == {"smtp"}
    replies = [x for x in lines if "smtp_code" in x]
    tshark_codes = [r[0] for r in tshark.fields(CAPTURE, "smtp.response.code") if r[0]]
    assert [str(x["smtp_code"]) for x in replies] == tshark_codes


def test_real_capture_scanned_from_the_client_finds_the_envelope_and_header_addresses() -> None:
    rows = tshark.fields(CAPTURE, "imf.to", display_filter="imf")
    header_to = {a.strip() for a in rows[0][0].replace("\\r\\n", "").split(",")}
    args = ["scan", "--no-store", "--reveal", "--format", "json", "--device-ip", "194.7.248.153"]
    res = CliRunner().invoke(main, [*args, str(CAPTURE)])
    assert res.exit_code == 1, res.output
    found = json.loads(res.stdout)["findings"]
    by: dict[str, set[str]] = {}
    for f in found:
        assert f["identifier"] == "email" and f["host"] == "172.16.114.207"
        by.setdefault(f["where"], set()).add(f["value"])
    assert by["smtp.mail_from"] == {"coreys@delta.peach.mil"}
    assert len(by["smtp.rcpt_to"]) == 30
    assert by["smtp.header:To"] == header_to and len(header_to) == 345


def test_real_capture_profile_less_reads_the_servers_echoes_as_the_device() -> None:
    """The mail server is the local end, so a profile-less scan calls it the device: what
    it sent are its replies, which echo the envelope (benchmarks/precision_labels.json)."""
    res = CliRunner().invoke(main, ["scan", "--no-store", "--format", "json", str(CAPTURE)])
    found = json.loads(res.stdout)["findings"]
    assert len(found) == 31 and {f["where"] for f in found} == {"smtp.reply"}


# --- end to end: a camera's alert mail -----------------------------------------------------

CAM_MAC = "a4:14:37:5e:21:9c"
CAM_SERIAL = "DS2CD2143G0I20200515"


def camera_capture(path: Path) -> None:
    cam = Host(bytes.fromhex("a414375e219c"), bytes([192, 168, 1, 64]))
    relay = Host(bytes.fromhex("020000000001"), bytes([198, 51, 100, 25]))
    body = (
        f"From: IPCamera <alarm@cam.example>\r\n"
        f"To: owner@example.org\r\n"
        f"Subject: Motion alarm from {CAM_MAC.upper()}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(f"Device serial: {CAM_SERIAL}\n".encode()).replace(
        b"\n", b"\r\n"
    )
    with PcapWriter(path) as w:
        c = TcpConnection(w, cam, 41000, relay, 587, 1_000_000)
        c.open()
        c.send(GREETING, from_client=False)
        for cmd, reply in (
            (b"EHLO IPC-HIK\r\n", b"250 relay\r\n"),
            (b"MAIL FROM:<alarm@cam.example>\r\n", b"250 Ok\r\n"),
            (b"RCPT TO:<owner@example.org>\r\n", b"250 Ok\r\n"),
            (b"DATA\r\n", b"354 go\r\n"),
            (body + b".\r\n", b"250 queued\r\n"),
            (b"QUIT\r\n", b"221 Bye\r\n"),
        ):
            c.send(cmd)
            c.send(reply, from_client=False)
        c.close()


def test_a_camera_alert_mail_leaks_its_mac_and_serial(tmp_path: Path) -> None:
    capture = tmp_path / "camera.pcap"
    camera_capture(capture)
    profile = tmp_path / "camera.device.toml"
    profile.write_text(f'name = "camera"\nmac = "{CAM_MAC}"\nserial = "{CAM_SERIAL}"\n')
    args = ["scan", "--no-store", "--reveal", "--format", "json", "--device", str(profile)]
    res = CliRunner().invoke(main, [*args, str(capture)])
    assert res.exit_code == 1, res.output
    found = json.loads(res.stdout)["findings"]
    got = {(f["identifier"], f["where"], f["host"], tuple(f["encoding"])) for f in found}
    assert ("mac", "smtp.header:Subject", "198.51.100.25", ()) in got
    assert ("serial", "smtp.body", "198.51.100.25", ()) in got
    assert all(f["protocol"] == "smtp" for f in found)


@pytest.mark.parametrize(
    "charset", ["UT\x00F-8", "base64", "rot13", "zlib", "undefined", "x" * 300]
)
def test_an_encoded_word_in_a_charset_codecs_refuses_is_read_as_text(charset: str) -> None:
    # A fuzz find (fuzz/regressions/smtp/charset-with-nul): codecs.lookup raised ValueError
    # for a name with a NUL, and bytes-to-bytes codecs raise LookupError when decoding.
    subject = f"=?{charset}?Q?Motion_359123456789012?="
    assert mime.decode_words(subject) == "Motion 359123456789012"
