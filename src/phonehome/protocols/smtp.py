"""SMTP (RFC 5321, submission RFC 6409): what a device puts in the mail it sends.

IP cameras, DVRs, NAS boxes and alarm panels mail alerts and snapshots, often in clear:
the EHLO name, the envelope addresses, the subject and the body carry the device's MAC,
serial number, owner's address, sometimes its location. One :class:`SmtpMail` is made
per mail transaction (MAIL .. RCPT .. DATA .. ``.``, or BDAT chunks, RFC 3030), with what
the client sent before it on the connection (EHLO name, AUTH user); a session that sends
no mail still gives one for its EHLO and AUTH. The DATA is read as a message
(:mod:`phonehome.protocols.mime`). Besides the envelope addresses, the ESMTP parameters
that name someone are kept (``AUTH=``, ``ENVID=``, ``ORCPT=``: a device's account, its
serial in an envelope id), and the strings a client asks about with VRFY and EXPN.

AUTH (RFC 4954): only the user names are kept (PLAIN's authorisation and authentication
ids, LOGIN's user name, the name in CRAM-MD5, SCRAM, XOAUTH2 and OAUTHBEARER responses).
Passwords, digests and tokens are dropped where they are read and never reach a record,
a field or an output: a report about leaks must not become one.

The server's replies (:class:`SmtpReply`) drive the state: a DATA refused, an AUTH
exchange over, STARTTLS accepted (RFC 3207), after which the connection is TLS and is
handed back to recognition (the TLS module reads the ClientHello; nothing after it is
read as SMTP, unless the run's key log opens it). They are messages too, searched only
when the device is the server (a NAS running a mail server echoes addresses in its
replies), as HTTP responses are.

Implicit TLS (RFC 8314 "submissions", port 465) needs nothing of its own: with the key
log, the decrypted stream is recognised by content like any TCP stream, by the server's
``220`` greeting when it says SMTP, else by the client's EHLO.

Hostile input is cut and counted (``smtp.*`` anomalies): command lines longer than
:data:`MAX_LINE`, DATA beyond :data:`MAX_DATA`, more than :data:`MAX_RCPT` recipients or
:data:`MAX_QUERIES` VRFY/EXPN, lines that are not commands (after :data:`MAX_BAD` in a row
the rest is raw payload), and the MIME bounds of :mod:`~phonehome.protocols.mime`.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget, expand_into
from phonehome.extract.leaf import escape_segment
from phonehome.extract.text import to_text
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.protocols import mime
from phonehome.protocols.base import Parsed, Protocol, Rest, TcpApp, TcpHost
from phonehome.protocols.mime import MailPart

MAX_LINE: Final = 4096
"""Longest command or reply line kept (RFC 5321 4.5.3.1 allows 512; servers accept
more); a longer one is dropped up to its end and counted."""
MAX_DATA: Final = 4 << 20
"""DATA bytes kept per mail; the rest is read up to its end but not kept (counted)."""
MAX_DATA_LINE: Final = 64 << 10
"""A DATA line without an end is kept in pieces of this size (it cannot be the final
``.``)."""
MAX_RCPT: Final = 1000
"""Recipients kept per mail (RFC 5321 4.5.3.1.8 asks servers to accept 100)."""
MAX_ADDRESS: Final = 1024
MAX_BAD: Final = 3
"""Lines in a row that are not commands before the direction is given up as raw."""
MAX_AUTH_LINES: Final = 8
"""Client lines of an AUTH exchange read without a server reply ending it."""
MAX_EXPECTED: Final = 1024
"""Commands remembered while their replies are awaited (pipelining, RFC 2920)."""
MAX_REPLY_LINES: Final = 128
MAX_QUERIES: Final = 100
"""VRFY and EXPN arguments kept per mail (an address harvester sends thousands)."""

NOISE_HEADERS: Final = frozenset(
    ("content-type", "content-transfer-encoding", "mime-version", "content-length")
)
"""Message header fields that are MIME mechanics (the walk reads them): not searched."""

_CLIENT_STARTS: Final = (b"EHLO ", b"HELO ", b"MAIL FROM:", b"STARTTLS\r\n")
_MAIL_IDENTITIES: Final = ("AUTH", "ENVID")
"""MAIL FROM parameters that name someone: the submitter's identity (RFC 4954 5) and the
envelope id (RFC 3461 4.4), which devices fill with a serial or MAC; SIZE, BODY, RET,
SMTPUTF8 ... are protocol and not kept."""
_RCPT_IDENTITIES: Final = ("ORCPT",)
"""RCPT TO parameters that name someone: the original recipient (RFC 3461 4.2); NOTIFY
is protocol."""
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_COMMAND: Final = 0
_DATA: Final = 1
_BDAT: Final = 2
_AUTH: Final = 3


class SmtpMail(Record):
    """One mail transaction the client sent, with the commands before it."""

    FIELDS = (
        "helo", "auth", "mail_from", "rcpt_to", "headers", "parts", "complete", "starttls",
        "vrfy", "expn", "mail_params", "rcpt_params", "embedded",
    )  # fmt: skip
    __slots__ = FIELDS

    helo: str
    """The EHLO/HELO argument (the client's name for itself)."""
    auth: tuple[str, ...]
    """User names an AUTH exchange gave (never a password)."""
    mail_from: str
    """The reverse-path address, without ``<>`` and parameters (empty: no MAIL)."""
    rcpt_to: tuple[str, ...]
    headers: mime.Headers
    """The message's header fields, unfolded and with encoded-words decoded."""
    parts: tuple[MailPart, ...]
    """The message's leaves (one for a message that is not multipart)."""
    complete: bool
    """The DATA ended with its final ``.`` (or the last BDAT); False when it was cut
    (bound, lost bytes, the connection ended) or there was no DATA."""
    starttls: bool
    """The client asked for TLS after this: what follows on the connection is encrypted."""
    vrfy: tuple[str, ...]
    """Arguments of VRFY commands (RFC 5321 3.5: a user name or mailbox asked about)."""
    expn: tuple[str, ...]
    """Arguments of EXPN commands (a mailing list asked about)."""
    mail_params: tuple[tuple[str, str], ...]
    """(keyword, value) of the MAIL FROM parameters that name someone (``AUTH``,
    ``ENVID``), xtext decoded (RFC 3461 4)."""
    rcpt_params: tuple[tuple[str, str], ...]
    """(keyword, value) of the RCPT TO parameters that name someone (``ORCPT``, its
    address type dropped), xtext decoded; at most one per recipient."""
    embedded: tuple[tuple[str, mime.Headers], ...]
    """(section, header fields) of the messages inside the message: a forwarded or
    bounced ``message/rfc822`` part, a delivery status (:attr:`mime.Mail.messages`)."""

    def __init__(
        self,
        helo: str = "",
        auth: tuple[str, ...] = (),
        mail_from: str = "",
        rcpt_to: tuple[str, ...] = (),
        headers: mime.Headers = (),
        parts: tuple[MailPart, ...] = (),
        complete: bool = False,
        starttls: bool = False,
        vrfy: tuple[str, ...] = (),
        expn: tuple[str, ...] = (),
        mail_params: tuple[tuple[str, str], ...] = (),
        rcpt_params: tuple[tuple[str, str], ...] = (),
        embedded: tuple[tuple[str, mime.Headers], ...] = (),
    ) -> None:
        self.helo = helo
        self.auth = auth
        self.mail_from = mail_from
        self.rcpt_to = rcpt_to
        self.headers = headers
        self.parts = parts
        self.complete = complete
        self.starttls = starttls
        self.vrfy = vrfy
        self.expn = expn
        self.mail_params = mail_params
        self.rcpt_params = rcpt_params
        self.embedded = embedded

    def subject(self) -> str:
        return mime.header_value(self.headers, "subject")


class SmtpReply(Record):
    """One server reply (all lines of a multi-line one)."""

    FIELDS = ("code", "text")
    __slots__ = FIELDS

    code: int
    text: str
    """The lines' text after the code, joined by line feeds."""

    def __init__(self, code: int, text: str) -> None:
        self.code = code
        self.text = text


class _Draft:
    """The mail being assembled from the client's commands."""

    __slots__ = (
        "auth", "expn", "helo", "mail_from", "mail_params", "rcpt", "rcpt_params", "start",
        "started", "vrfy",
    )  # fmt: skip

    def __init__(self) -> None:
        self.helo = ""
        self.auth: list[str] = []
        self.mail_from = ""
        self.mail_params: list[tuple[str, str]] = []
        self.rcpt: list[str] = []
        self.rcpt_params: list[tuple[str, str]] = []
        self.vrfy: list[str] = []
        self.expn: list[str] = []
        self.start = (0.0, 0)
        self.started = False

    def stamp(self, time: float, frame: int) -> None:
        if not self.started:
            self.start = (time, frame)
            self.started = True


class SmtpApp(TcpApp):
    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._cbuf = bytearray()
        self._mode = _COMMAND
        self._draft = _Draft()
        self._data = bytearray()
        self._data_over = False
        self._line_start = True
        self._skip_line = False
        self._bad = 0
        self._bdat_left = 0
        self._bdat_last = False
        self._auth_mech = ""
        self._auth_lines = 0
        self._auth_user = False
        self._tls_wait = False
        self._stopped = False
        self._expected: list[str] = []
        self._time = 0.0
        self._frame = 0
        self._sbuf = bytearray()
        self._s_skip = False
        self._s_bad = 0
        self._reply: list[str] = []
        self._reply_code = 0
        self._reply_start = (0.0, 0)

    # -- TcpApp ---------------------------------------------------------------------------

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        """A server whose greeting did not say SMTP went raw before the client's EHLO
        decided: its replies are needed for the state, so it follows from now on."""
        host = self.host
        if from_client and host.is_raw(False):
            host.flush_raw(False, out)
            host.attach(False, self, out)

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        if self._stopped:
            return
        if from_client:
            self._client(data, time, frame, out)
        else:
            self._server(data, time, frame, out)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        """Lost bytes: the mail being read ends there, unfinished; the direction goes on
        as raw until a segment starts a command again (:meth:`SmtpProtocol.tcp_resume`)."""
        if self._stopped:
            return
        if from_client:
            self._problem("smtp.gap", f"{size} bytes lost", None)
            self._emit(out, False)
            self._cbuf.clear()
            self._mode = _COMMAND
            self._skip_line = False
            self._bad = 0
            self.host.to_raw(True, None, out)
        else:
            self._sbuf.clear()
            self._reply = []
            self._s_skip = True  # the rest of a cut line

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        if self._stopped:
            return
        if from_client:
            if self._mode == _COMMAND and self._cbuf and not self._skip_line:
                line = bytes(self._cbuf)  # a last command without its line end
                self._cbuf.clear()
                self._command(line, out)
            if self._mode in (_DATA, _BDAT) and self._cbuf:
                self._keep(bytes(self._cbuf))
                self._cbuf.clear()
            self._emit(out, False)
        else:
            if self._reply:
                self._end_reply(out)

    # -- client ---------------------------------------------------------------------------

    def _client(self, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        self._time = time
        self._frame = frame
        self._cbuf += data
        buf = self._cbuf
        while buf and not self._stopped:
            mode = self._mode
            if self._tls_wait and mode == _COMMAND and _looks_like_tls(buf):
                # STARTTLS was sent and its reply is not in the capture (or not yet read):
                # the ClientHello says it was accepted.
                self._to_tls((bytes(buf), time, frame), None, out)
                return
            if mode == _DATA:
                if not self._take_data(out):
                    return
            elif mode == _BDAT:
                if not self._take_chunk(out):
                    return
            else:
                end = buf.find(b"\n")
                if end < 0:
                    if len(buf) > MAX_LINE:
                        self._problem("smtp.long_line", f"line over {MAX_LINE} bytes", frame)
                        buf.clear()
                        self._skip_line = True
                    return
                line = bytes(buf[:end]).rstrip(b"\r")
                del buf[: end + 1]
                if self._skip_line:
                    self._skip_line = False
                    continue
                if len(line) > MAX_LINE:
                    self._problem("smtp.long_line", f"line over {MAX_LINE} bytes", frame)
                    continue
                if mode == _AUTH:
                    self._auth_line(line, out)
                else:
                    self._command(line, out)

    def _command(self, line: bytes, out: list[Parsed]) -> None:
        if not line.strip():
            return
        verb, _, arg_bytes = line.partition(b" ")
        if not (verb.isalpha() and len(verb) <= 12) or not _printable(line):
            self._bad += 1
            self._problem("smtp.bad_command", "a line that is not an SMTP command", self._frame)
            if self._bad >= MAX_BAD:
                self._give_up(line, out)
            return
        self._bad = 0
        cmd = verb.decode("ascii").upper()
        arg = to_text(arg_bytes).strip()
        self._expect(cmd)
        draft = self._draft
        if cmd in ("EHLO", "HELO"):
            if draft.mail_from:
                self._emit(out, False)  # EHLO resets a transaction (RFC 5321 4.1.4)
            draft = self._draft
            draft.stamp(self._time, self._frame)
            draft.helo = arg
        elif cmd == "AUTH":
            self._auth(arg)
        elif cmd == "MAIL":
            if draft.mail_from:
                self._emit(out, False)
                draft = self._draft
            draft.stamp(self._time, self._frame)
            path, rest = _path(arg, "FROM:")
            draft.mail_from = path or "<>"
            draft.mail_params = _identity_params(rest, _MAIL_IDENTITIES)
        elif cmd == "RCPT":
            draft.stamp(self._time, self._frame)
            if len(draft.rcpt) < MAX_RCPT:
                path, rest = _path(arg, "TO:")
                draft.rcpt.append(path)
                draft.rcpt_params += _identity_params(rest, _RCPT_IDENTITIES)
            else:
                self._problem("smtp.rcpt_limit", f"more than {MAX_RCPT} recipients", self._frame)
        elif cmd in ("VRFY", "EXPN"):
            self._query(cmd, arg)
        elif cmd == "DATA":
            draft.stamp(self._time, self._frame)
            self._mode = _DATA
            self._line_start = True
        elif cmd == "BDAT":
            self._bdat(arg)
        elif cmd == "RSET":
            if draft.mail_from:
                self._emit(out, False)
        elif cmd == "QUIT":
            self._emit(out, False)
        elif cmd == "STARTTLS":
            self._tls_wait = True

    def _query(self, cmd: str, arg: str) -> None:
        """VRFY/EXPN <string> (RFC 5321 3.5): the user name, mailbox or list asked about."""
        draft = self._draft
        draft.stamp(self._time, self._frame)
        if len(draft.vrfy) + len(draft.expn) >= MAX_QUERIES:
            self._problem("smtp.query_limit", f"more than {MAX_QUERIES} VRFY/EXPN", self._frame)
            return
        text = _query_string(arg)
        if text:
            (draft.vrfy if cmd == "VRFY" else draft.expn).append(text)

    def _auth(self, arg: str) -> None:
        """AUTH <mechanism> [initial response]: the names in it, the rest dropped."""
        mech, _, initial = arg.partition(" ")
        self._draft.stamp(self._time, self._frame)
        self._auth_mech = mech.upper()
        self._auth_lines = 0
        self._auth_user = False
        initial = initial.strip()
        if initial and initial != "=":
            self._auth_response(initial.encode("ascii", "replace"))
            if self._auth_mech == "PLAIN":
                return  # nothing follows a PLAIN initial response
        self._mode = _AUTH

    def _auth_line(self, line: bytes, out: list[Parsed]) -> None:
        """A client line of an AUTH exchange, answering a 334 challenge."""
        if b" " in line.strip() or b":" in line:
            # Base64 has neither: a command, the exchange ended unseen (no server side)
            self._mode = _COMMAND
            self._command(line, out)
            return
        self._expect("AUTH")
        self._auth_lines += 1
        if line.strip() == b"*" or self._auth_lines > MAX_AUTH_LINES:
            self._mode = _COMMAND  # cancelled (RFC 4954 4), or the exchange ran too long
            return
        if self._auth_mech == "LOGIN" and self._auth_user:
            self._mode = _COMMAND  # LOGIN's second response is the password: not decoded
            return
        self._auth_response(line)
        if self._auth_mech == "PLAIN":
            self._mode = _COMMAND

    def _auth_response(self, encoded: bytes) -> None:
        """One Base64 response of the client; only the user names in it are kept."""
        mech = self._auth_mech
        if mech == "LOGIN":
            self._auth_user = True
        raw = _b64(encoded)
        if raw is None:
            self._problem("smtp.bad_auth", f"AUTH {mech} response is not Base64", self._frame)
            return
        auth = self._draft.auth
        for name in _auth_names(mech, raw):
            if name and name not in auth and len(auth) < 4:
                auth.append(name)

    def _bdat(self, arg: str) -> None:
        """BDAT <size> [LAST] (RFC 3030): the next ``size`` bytes are message data."""
        size_text, _, last = arg.partition(" ")
        if not size_text.isdigit():
            self._problem("smtp.bad_command", "BDAT without a size", self._frame)
            return
        self._draft.stamp(self._time, self._frame)
        self._bdat_left = int(size_text)
        self._bdat_last = last.strip().upper() == "LAST"
        self._mode = _BDAT

    def _take_chunk(self, out: list[Parsed]) -> bool:
        buf = self._cbuf
        n = min(self._bdat_left, len(buf))
        self._keep(bytes(buf[:n]))
        del buf[:n]
        self._bdat_left -= n
        if self._bdat_left:
            return False
        self._mode = _COMMAND
        if self._bdat_last:
            self._expect(".")
            self._emit(out, True)
        return True

    def _take_data(self, out: list[Parsed]) -> bool:
        """DATA lines up to the final ``.``, dot-stuffing undone (RFC 5321 4.5.2); True
        when the end was reached."""
        buf = self._cbuf
        pos = 0
        while True:
            end = buf.find(b"\n", pos)
            if end < 0:
                break
            line = bytes(buf[pos : end + 1])
            pos = end + 1
            if self._line_start and line[:1] == b".":
                if line in (b".\r\n", b".\n"):
                    del buf[:pos]
                    self._mode = _COMMAND
                    self._expect(".")
                    self._emit(out, True)
                    return True
                line = line[1:]
            self._line_start = True
            self._keep(line)
        if len(buf) - pos > MAX_DATA_LINE:
            chunk = bytes(buf[pos:])
            if self._line_start and chunk[:1] == b".":
                chunk = chunk[1:]
            self._keep(chunk)
            self._line_start = False
            pos = len(buf)
        del buf[:pos]
        return False

    def _keep(self, data: bytes) -> None:
        room = MAX_DATA - len(self._data)
        if len(data) > room:
            data = data[:room]
            if not self._data_over:
                self._data_over = True
                self._problem("smtp.data_limit", f"DATA over {MAX_DATA} bytes", self._frame)
        if data:
            self._data += data

    def _emit(self, out: list[Parsed], complete: bool) -> None:
        """The draft as a mail (if it holds anything), then a fresh draft."""
        draft = self._draft
        in_data = self._mode in (_DATA, _BDAT) or bool(self._data)
        if draft.started or in_data:
            mail = self._mail(draft, complete and not self._data_over)
            time, frame = draft.start if draft.started else (self._time, self._frame)
            out.append(Parsed(True, time, frame, mail))
        self._draft = _Draft()
        self._data = bytearray()
        self._data_over = False
        if self._mode in (_DATA, _BDAT):
            self._mode = _COMMAND

    def _mail(self, draft: _Draft, complete: bool) -> SmtpMail:
        headers: mime.Headers = ()
        parts: tuple[MailPart, ...] = ()
        embedded: tuple[tuple[str, mime.Headers], ...] = ()
        if self._data:
            parsed = mime.parse(bytes(self._data))
            headers = parsed.headers
            parts = tuple(parsed.parts)
            embedded = tuple(parsed.messages)
            for kind, detail in parsed.problems:
                self._problem(f"smtp.{kind}", detail, draft.start[1])
        return SmtpMail(
            draft.helo,
            tuple(draft.auth),
            "" if draft.mail_from == "<>" else draft.mail_from,
            tuple(draft.rcpt),
            headers,
            parts,
            complete,
            self._tls_wait,
            tuple(draft.vrfy),
            tuple(draft.expn),
            tuple(draft.mail_params),
            tuple(draft.rcpt_params),
            embedded,
        )

    def _give_up(self, line: bytes, out: list[Parsed]) -> None:
        """Not SMTP after all (or no longer): the client's bytes from here are raw."""
        self._emit(out, False)
        rest = line + b"\r\n" + bytes(self._cbuf)
        self._cbuf.clear()
        self._mode = _COMMAND
        self.host.to_raw(True, (rest, self._time, self._frame), out, False)

    def _expect(self, cmd: str) -> None:
        expected = self._expected
        if len(expected) >= MAX_EXPECTED:
            del expected[0]
        expected.append(cmd)

    # -- server ---------------------------------------------------------------------------

    def _server(self, data: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        self._sbuf += data
        buf = self._sbuf
        while not self._stopped:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_LINE:
                    self._problem("smtp.long_line", f"reply line over {MAX_LINE} bytes", frame)
                    buf.clear()
                    self._s_skip = True
                return
            line = bytes(buf[:end]).rstrip(b"\r")
            del buf[: end + 1]
            if self._s_skip:
                self._s_skip = False
                continue
            self._reply_line(line, time, frame, out)

    def _reply_line(self, line: bytes, time: float, frame: int, out: list[Parsed]) -> None:
        code = line[:3]
        sep = line[3:4]
        if len(line) > MAX_LINE or not code.isdigit() or sep not in (b"", b" ", b"-"):
            self._s_bad += 1
            self._problem("smtp.bad_reply", "a server line that is not a reply", frame)
            if self._s_bad >= MAX_BAD:
                self._reply = []
                rest = (line + b"\r\n" + bytes(self._sbuf), time, frame)
                self._sbuf.clear()
                self.host.to_raw(False, rest, out, False)
            return
        self._s_bad = 0
        if not self._reply:
            self._reply_start = (time, frame)
            self._reply_code = int(code)
        if len(self._reply) < MAX_REPLY_LINES:
            self._reply.append(to_text(line[4:]))
        if sep != b"-":
            self._end_reply(out)

    def _end_reply(self, out: list[Parsed]) -> None:
        code = self._reply_code
        reply = SmtpReply(code, "\n".join(self._reply))
        self._reply = []
        time, frame = self._reply_start
        out.append(Parsed(False, time, frame, reply))
        cmd = self._expected.pop(0) if self._expected else ""
        if cmd == "DATA" and code != 354 and self._mode == _DATA and not self._data:
            self._mode = _COMMAND  # refused: what follows are commands again
        elif cmd == "AUTH" and code != 334 and self._mode == _AUTH:
            self._mode = _COMMAND
        elif cmd == "STARTTLS":
            if 200 <= code < 300:
                self._to_tls(None, None, out)
            else:
                self._tls_wait = False

    # -- the end of SMTP --------------------------------------------------------------------

    def _to_tls(self, client: Rest | None, server: Rest | None, out: list[Parsed]) -> None:
        """STARTTLS accepted: what the client had asked goes out as a mail marked so, and
        both directions are recognised afresh (a TLS ClientHello next)."""
        self._tls_wait = True
        self._emit(out, False)
        self._stopped = True
        rest = client
        if rest is None and self._cbuf:
            rest = (bytes(self._cbuf), self._time, self._frame)
        self._cbuf.clear()
        self._sbuf.clear()
        self.host.reopen([(True, rest), (False, server)], out)

    def _problem(self, kind: str, detail: str, frame: int | None) -> None:
        self.host.ctx.anomalies.add(kind, self.host.input, frame, detail)


def _printable(line: bytes) -> bool:
    return not any(b < 0x20 and b != 0x09 for b in line[:64])


def _looks_like_tls(data: bytes | bytearray) -> bool:
    """A TLS handshake record header (RFC 8446 5.1)."""
    return len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03


def _path(arg: str, prefix: str) -> tuple[str, str]:
    """The path of ``FROM:<a@b> SIZE=1`` / ``TO:<a@b>`` (the address without ``<>``, cut
    at :data:`MAX_ADDRESS`) and the parameters' text after it."""
    text = arg
    if text[: len(prefix)].upper() == prefix:
        text = text[len(prefix) :]
    text = text.strip()
    if text.startswith("<"):
        end = text.find(">")
        rest = text[end + 1 :] if end >= 0 else ""
        text = text[1:end] if end >= 0 else text[1:]
    else:
        text, _, rest = text.partition(" ")
    # A source route (RFC 5321 4.1.2, obsolete): the mailbox is after the colon.
    if text.startswith("@") and ":" in text:
        text = text.partition(":")[2]
    return text[:MAX_ADDRESS], rest


def _identity_params(text: str, keywords: tuple[str, ...]) -> list[tuple[str, str]]:
    """The ESMTP parameters (RFC 5321 4.1.2 ``esmtp-keyword=esmtp-value``) among
    ``keywords``, the first of each, xtext decoded; ``AUTH=<>`` (no identity) is none."""
    out: list[tuple[str, str]] = []
    for param in text.split():
        keyword, eq, value = param.partition("=")
        key = keyword.upper()
        if not eq or key not in keywords or any(k == key for k, _ in out):
            continue
        if key == "ORCPT":
            value = _orcpt(value)
        else:
            value = _xtext(value)
            if value.startswith("<") and value.endswith(">"):
                value = value[1:-1]  # AUTH=<a@b>: the brackets some clients add
        value = value.strip()[:MAX_ADDRESS]
        if value:
            out.append((key, value))
    return out


def _orcpt(value: str) -> str:
    """``ORCPT=addr-type;xtext`` (RFC 3461 4.2): the address, its type dropped; a
    ``utf-8`` one also has ``\\x{HEX}`` escapes (RFC 6533 3)."""
    kind, sep, address = value.partition(";")
    if not sep:
        return _xtext(value)
    text = _xtext(address)
    if kind.strip().lower() == "utf-8" and "\\x{" in text:
        text = _unicode_escapes(text)
    return text


def _xtext(text: str) -> str:
    """xtext (RFC 3461 4): ``+XX`` is the byte XX; the bytes are UTF-8 (else latin-1)."""
    if "+" not in text:
        return text
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "+" and len(text) >= i + 3 and text[i + 1] in _HEX and text[i + 2] in _HEX:
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            out += c.encode("utf-8", "replace")
            i += 1
    return to_text(bytes(out))


def _unicode_escapes(text: str) -> str:
    """``\\x{HEX}`` escapes (RFC 6533 3, utf-8-addr-xtext) as the characters they name;
    one that names none is kept as it is."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("\\x{", pos)
        end = text.find("}", start + 3) if start >= 0 else -1
        if start < 0 or end < 0:
            break
        digits = text[start + 3 : end]
        out.append(text[pos:start])
        if 0 < len(digits) <= 6 and all(c in _HEX for c in digits) and int(digits, 16) < 0x110000:
            out.append(chr(int(digits, 16)))
        else:
            out.append(text[start : end + 1])
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _query_string(arg: str) -> str:
    """The string of ``VRFY``/``EXPN`` (RFC 5321 4.1.1.6, 4.1.1.7): without ``<>`` and
    the SMTPUTF8 parameter (RFC 6531 3.7.4.2), cut at :data:`MAX_ADDRESS`."""
    text = arg.strip()
    if text.upper().endswith(" SMTPUTF8"):
        text = text[: -len(" SMTPUTF8")].rstrip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text[:MAX_ADDRESS]


def _b64(data: bytes) -> bytes | None:
    try:
        return binascii.a2b_base64(data.strip())
    except (binascii.Error, ValueError):
        return None


def _auth_names(mech: str, raw: bytes) -> list[str]:
    """The user names in one decoded AUTH response; secrets in it are not returned."""
    if mech == "PLAIN":
        pieces = raw.split(b"\0")
        if len(pieces) != 3:
            return []
        return [to_text(pieces[0]), to_text(pieces[1])]  # authzid, authcid; not passwd
    if mech == "LOGIN":
        return [to_text(raw)]
    if mech == "CRAM-MD5":
        return [to_text(raw.rpartition(b" ")[0])]  # "user hexdigest"
    if mech == "XOAUTH2":
        for item in raw.split(b"\x01"):
            if item.startswith(b"user="):
                return [to_text(item[5:])]
        return []
    # SCRAM (RFC 5802: "n,a=authzid,n=user,r=nonce") and OAUTHBEARER (RFC 7628 3.1:
    # "n,a=user,\x01host=..\x01auth=Bearer token"): the a= and n= attributes.
    names: list[str] = []
    for item in raw.split(b"\x01")[0].split(b","):
        if item.startswith((b"a=", b"n=")) and len(item) > 2:
            names.append(to_text(item[2:]).replace("=2C", ",").replace("=3D", "="))
    return names


class SmtpProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("smtp", (SmtpMail, SmtpReply))

    def tcp_client(self, head: bytes) -> bool:
        return head[:10].upper().startswith(_CLIENT_STARTS)

    def tcp_server(self, head: bytes) -> bool:
        """A 220 greeting that says it is SMTP: FTP greets with ``220`` too."""
        return head[:3] == b"220" and head[3:4] in (b" ", b"-") and b"SMTP" in head.upper()

    def tcp_resume(self, data: bytes) -> bool:
        """A segment that opens a session or a transaction (after a gap, or a capture
        that began mid-connection)."""
        return data[:10].upper().startswith(_CLIENT_STARTS[:3]) and b"\n" in data[:MAX_LINE]

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return SmtpApp(self, host)

    def columns(self, content: Content) -> dict[str, Any]:
        if isinstance(content, SmtpReply):
            return {"smtp_code": content.code}
        assert isinstance(content, SmtpMail)
        return {
            "smtp_helo": content.helo or None,
            "smtp_from": content.mail_from or None,
            "smtp_to": list(content.rcpt_to),
            "subject": content.subject() or None,
            "parts": [p.media for p in content.parts],
            "starttls": content.starttls,
        }

    def summary(self, content: Content) -> str:
        if isinstance(content, SmtpReply):
            first = content.text.partition("\n")[0]
            return f"{content.code} {first}".rstrip()
        assert isinstance(content, SmtpMail)
        words: list[str] = []
        if content.helo:
            words.append(f"EHLO {content.helo}")
        if content.mail_from:
            words.append(f"FROM <{content.mail_from}>")
        if content.rcpt_to:
            words.append(f"TO {len(content.rcpt_to)}")
        subject = content.subject()
        if subject:
            words.append(f"subject={subject[:60]!r}")
        if content.parts:
            words.append(f"parts={len(content.parts)}")
        if content.starttls:
            words.append("STARTTLS")
        return " ".join(words) or "SMTP"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        out: list[Field] = []
        if isinstance(content, SmtpReply):
            expand_into(out, budget, "smtp.reply", "", (), None, (), content.text)
            return iter(out)
        assert isinstance(content, SmtpMail)
        if content.helo:
            expand_into(out, budget, "smtp.helo", "", (), None, (), content.helo)
        for name in content.auth:
            expand_into(out, budget, "smtp.auth", "", (), None, (), name)
        if content.mail_from:
            expand_into(out, budget, "smtp.mail_from", "", (), None, (), content.mail_from)
        for key, value in content.mail_params:
            expand_into(out, budget, "smtp.mail_from", key, (), key, (), value)
        for rcpt in content.rcpt_to:
            expand_into(out, budget, "smtp.rcpt_to", "", (), None, (), rcpt)
        for key, value in content.rcpt_params:
            expand_into(out, budget, "smtp.rcpt_to", key, (), key, (), value)
        for name in content.vrfy:
            expand_into(out, budget, "smtp.vrfy", "", (), None, (), name)
        for name in content.expn:
            expand_into(out, budget, "smtp.expn", "", (), None, (), name)
        _header_fields(out, budget, "", content.headers)
        for section, headers in content.embedded:
            _header_fields(out, budget, f"part[{section}]>", headers)
        for part in content.parts:
            segment = f"part[{part.section}]" if part.section else ""
            if part.text:
                expand_into(out, budget, "smtp.body", segment, (), None, (), part.text)
            if part.name:
                expand_into(out, budget, "smtp.attachment", segment, (), None, (), part.name)
        return iter(out)


def _header_fields(out: list[Field], budget: Budget, prefix: str, headers: mime.Headers) -> None:
    """``smtp.header:<Name>``; an embedded message's under its part, as its body's are:
    ``smtp.header:part[2]>Subject`` (``>``: a structure inside the part)."""
    for name, value in headers:
        if name.lower() not in NOISE_HEADERS:
            segment = prefix + escape_segment(name)
            expand_into(out, budget, "smtp.header", segment, (), name, (), value)


SMTP: Final = SmtpProtocol()
