"""E-mail addresses: a dot-atom local part, ``@``, a domain with a real TLD.

The local part takes the characters addresses use in practice (letters, digits,
``_ % + -`` and inner dots), not all of RFC 5322's: ``= & / ?`` would swallow the query
string in front of an address.

The TLD check (against the Public Suffix List bundled by ``publicsuffixlist``) removes
the common look-alikes: ``icon@2x.png``, ``pkg@1.2.3``, ``user@localhost``. Protocols
use the ``local@domain`` shape for names that are not anyone's mailbox, and those are
rejected too (docs/detectors.md says which and why):

* algorithm and extension names of SSH and other IETF registries in RFC 4250's
  ``name@domain`` form (``curve25519-sha256@libssh.org``, ``hmac-sha2-256-etm@openssh.com``);
* SIP and SIPS URIs (``sip:alice@example.org`` addresses a phone line, not a mailbox) and
  other URI schemes that use the form (``tel:``, ``im:``, ``pres:``, ``xmpp:``);
* 3GPP network access and IMS identities (any ``...@....3gppnetwork.org``, a domain the
  GSMA runs for exactly that): the IMSI in them is reported as an IMSI;
* message and call identifiers under their protocol keys (``Call-ID``, ``Message-ID``,
  ``In-Reply-To``, ``References``, ``Content-ID``): random tokens at a host name.

And addresses that are real but the same for everyone are not a person's identifier:
role mailboxes (RFC 2142: ``postmaster@``, ``abuse@``, ``support@``, ``noreply@`` ...), the
anonymous NAI of EAP outer identities (RFC 7542 2.4: ``anonymous@realm``, ``@realm``),
template placeholders (``user@``, ``your_phone_number@``), and the shared logins of mobile
data access points (``ppp@``, ``wap@``, ``internet@`` + operator domain: every subscriber
of the APN sends the same).
"""

from __future__ import annotations

import re

from publicsuffixlist import PublicSuffixList

from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match
from phonehome.refdata import public_suffixes

EMAIL_KEYS = re.compile(r"x?(user)?(e?mail(address)?\d*|login|username|account)")
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?![A-Za-z0-9-])(?!\.[A-Za-z0-9])"
)


NEVER_KEYS = re.compile(r"callid|messageid|inreplyto|references|contentid|xmessageid")
"""Keys whose value has the address shape but is a message or call identifier."""
_SCHEME_BEFORE = re.compile(r"(?:sips?|tel|im|pres|xmpp):$", re.IGNORECASE)
_NOT_MAILBOX_DOMAINS = ("3gppnetwork.org",)
_ALGORITHM_TOKEN = re.compile(
    r"sha\d*|md5|hmac|umac|aes\d*|chacha20|poly1305|curve(25519|448)|ed(25519|448)|ecdsa|"
    r"ecdh|nistp\d+|sntrup\d+\w*|mlkem\d+\w*|x(25519|448)|rijndael|blowfish|arcfour\d*|"
    r"3des|twofish\d*|cast128|diffie|hellman|ripemd\d+|gcm|etm|cbc|ctr|zlib|kex|cert"
)
_ALGORITHM_NAME = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_ALGORITHM_DOMAINS = frozenset(("openssh.com", "libssh.org", "ssh.com", "lysator.liu.se"))


SHARED_LOCAL_PARTS = frozenset(
    (
        # RFC 2142 role mailboxes, and the no-reply senders
        "postmaster", "hostmaster", "webmaster", "abuse", "noc", "security", "info",
        "marketing", "sales", "support", "noreply", "no-reply", "donotreply", "do-not-reply",
        "mailer-daemon",
        # RFC 7542 2.4 anonymous NAI (EAP outer identity)
        "anonymous", "anon",
        # placeholders of templates and documentation
        "user", "username", "name", "email", "someone", "example", "test", "number",
        "your_phone_number", "yourname", "your.name", "firstname.lastname",
        # shared access-point logins (the same for every subscriber of the APN)
        "ppp", "wap", "mms", "gprs", "internet", "data", "web", "mobile", "evdo", "cdma",
        "lte", "umts", "3g", "4g", "5g", "apn", "dial", "dialup", "broadband", "wireless",
    )
)  # fmt: skip
"""Local parts that name no one: whoever sends such an address, it is everyone's."""


def shared_address(local: str) -> bool:
    """A role, anonymous, placeholder or shared-login local part (see the module doc)."""
    return local.lower() in SHARED_LOCAL_PARTS


def algorithm_name(local: str, domain: str) -> bool:
    """An RFC 4250 ``name@domain`` algorithm or extension name: lower-case words joined by
    ``-`` with a cryptographic one among them (``hmac-sha2-256-etm``); at a domain that
    defines SSH names, one such word (``zlib@openssh.com``) or any hyphenated or numbered
    name (``ext-info-in-auth@openssh.com``)."""
    if _ALGORITHM_NAME.fullmatch(local) is None:
        return False
    words = re.split(r"[-.]", local)
    if domain.lower() in _ALGORITHM_DOMAINS and (len(words) > 1 or any(c.isdigit() for c in local)):
        return True  # openssh.com's extension names: hostkeys-00, ext-info-in-auth ...
    crypto = any(_ALGORITHM_TOKEN.fullmatch(w) for w in words)
    return crypto and (len(words) > 1 or domain.lower() in _ALGORITHM_DOMAINS)


def not_a_mailbox(text: str, start: int, local: str, domain: str) -> bool:
    """The ``local@domain`` at ``start`` is a protocol name, not an e-mail address."""
    d = domain.lower()
    if d.endswith(_NOT_MAILBOX_DOMAINS):
        return True
    if _SCHEME_BEFORE.search(text, max(0, start - 5), start) is not None:
        return True
    return shared_address(local) or algorithm_name(local, d)


def _suffixes() -> PublicSuffixList:
    return public_suffixes()


def known_tld(domain: str) -> bool:
    return _suffixes().publicsuffix(domain.lower(), accept_unknown=False) is not None


class EmailDetector(Detector):
    id = "PH-EMAIL"
    identifier = "email"
    name = "e-mail address"
    needs = re.compile("@")

    def scan(self, field: Field) -> list[Match]:
        text = field.text
        if "@" not in text or key_is(field, NEVER_KEYS):
            return []
        confidence = 0.95 if key_is(field, EMAIL_KEYS) else 0.85
        return [
            self.match(field, m.group().lower(), m.start(), m.end(), confidence)
            for m in _CANDIDATE.finditer(text)
            if known_tld(m.group(1))
            and not not_a_mailbox(text, m.start(), m.group().rpartition("@")[0], m.group(1))
        ]
