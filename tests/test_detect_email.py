"""E-mail detector: dot-atom local part, a domain with a real TLD, whole tokens."""

from __future__ import annotations

import pytest

from phonehome.detect.email import EmailDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("ola.nordmann@example.no", value="ola.nordmann@example.no"),
    hit("user=Ola.Nordmann+news@Example.COM&x=1", value="ola.nordmann+news@example.com"),
    hit('{"email":"li.wei@mail.163.com"}', value="li.wei@mail.163.com"),
    hit("contact: a_b-c@sub.example.co.uk.", value="a_b-c@sub.example.co.uk"),
    miss("icon@2x.png"),  # not a TLD
    miss("root@localhost"),
    miss("pkg@1.2.3"),
    miss("ola.nordmann@example.notatld"),
    miss("@example.com"),
    miss("ola@-example.com"),
    miss("no at sign here"),
    # protocol names in the address shape (docs/detectors.md): SSH algorithm names ...
    miss("curve25519-sha256@libssh.org"),
    miss("kex=curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256"),
    miss("hmac-sha2-256-etm@openssh.com"),
    miss("rijndael-cbc@lysator.liu.se"),
    miss("chacha20-poly1305@openssh.com"),
    miss("ssh-ed25519-cert-v01@openssh.com"),
    miss("zlib@openssh.com"),
    miss("ext-info-in-auth@openssh.com"),
    hit("djm@openssh.com", value="djm@openssh.com"),  # a person's mailbox there
    miss("security@openssh.com"),  # a role mailbox (RFC 2142): no one's own
    hit("aes256@example.org", value="aes256@example.org"),  # one word elsewhere: a person's
    # ... SIP/tel/XMPP URIs, 3GPP identities, message and call ids
    miss("sip:alice@example.org"),
    miss("<sips:alice@example.org;transport=tls>"),
    hit("mailto:alice@example.org", value="alice@example.org"),
    miss("0242011234567890@wlan.mnc001.mcc242.3gppnetwork.org"),
    miss("alice@ims.mnc001.mcc242.3gppnetwork.org"),
    miss("a84b4c76e66710@pc33.atlanta.com", "Call-ID"),
    miss("<1234.5678@mail.example.com>", "Message-ID"),
    hit("a84b4c76e66710@pc33.atlanta.com", "X-Trace", value="a84b4c76e66710@pc33.atlanta.com"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(EmailDetector)


def test_span_and_key_confidence() -> None:
    m = EmailDetector().scan(field("to <ola@example.no>"))[0]
    assert (m.start, m.end) == (4, 18)
    keyed = EmailDetector().scan(field("ola@example.no", "email"))[0]
    assert keyed.confidence > m.confidence
