"""TLS 1.2/1.3 decryption of the real-stack captures in tests/data/tls (keys by file and by
DSB, every suite, resumption, HelloRetryRequest, 0-RTT), and of their streams cut, damaged,
cut short and mixed with wrong keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phonehome.decrypt.keylog import CLIENT_EARLY_TRAFFIC_SECRET, SOURCE_FILE, KeyLog
from phonehome.decrypt.tls import (
    DECRYPTED,
    HOLD_LIMIT,
    INCOMPLETE,
    KEYS_MISSING,
    MAX_RECORD,
    NOT_TLS,
    UNSUPPORTED,
    WRONG_KEY,
    Piece,
    TlsDecryptor,
)
from phonehome.model.message import HttpRequest, header
from tests.builders_tls import DATA, Chunk, decrypt_capture, flow_chunks, keylog_of

IMEI = "352071026884283"
AD_ID = "f409f3d8-dbd7-40a3-8548-2877e348feb5"
BODY = b'{"imei":"352071026884283","event":"unlock","model":"TA-1046"}'

# name: (version, suite, alpn, connections, requests, responses), as tshark counts them:
# with "Connection: close" curl sends its second request on the first connection before
# it sees the close, and again on the resumed one; s_server answers neither the 0-RTT
# nor the HelloRetryRequest, KeyUpdate and renegotiation cases' POSTs.
CAPTURES = {
    "tls13-aes128gcm-http11": ("TLS 1.3", "TLS_AES_128_GCM_SHA256", None, 1, 2, 2),
    "tls13-aes256gcm-http11": ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None, 1, 2, 2),
    "tls13-chacha20-http11": ("TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256", None, 1, 2, 2),
    "tls13-resumed-http11": ("TLS 1.3", "TLS_AES_128_GCM_SHA256", None, 2, 3, 2),
    "tls13-hrr-http11": ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None, 1, 1, 0),
    "tls13-early-data-http11": ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None, 2, 2, 0),
    "tls13-keyupdate-http11": ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None, 1, 2, 0),
    "tls12-renegotiation-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", None, 1, 2, 0),
    "tls12-ecdhe-aes128gcm-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", None, 1, 2, 2),
    "tls12-ecdhe-aes256gcm-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", None, 1, 2, 2),
    "tls12-ecdhe-chacha20-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", None, 1, 2, 2),
    "tls12-cbc-sha-etm-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None, 1, 2, 2),
    "tls12-cbc-sha384-mte-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", None, 1, 2, 2),
    "tls12-resumed-ticket-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", None, 2, 2, 2),
    "tls12-resumed-id-http11": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", None, 2, 3, 2),
    "tls13-aes128gcm-h2": ("TLS 1.3", "TLS_AES_128_GCM_SHA256", "h2", 1, 2, 2),
    "tls12-ecdhe-aes128gcm-h2": (
        "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "h2", 1, 2, 2),
}  # fmt: skip


def check_requests(requests: list[HttpRequest], expected: int) -> None:
    assert len(requests) == expected
    for request in requests:
        assert request.method == "POST" and request.body == BODY
        assert request.host is not None and request.host.startswith("telemetry.phonehome.test")
        assert header(request.headers, "x-ad-id") == AD_ID


@pytest.mark.parametrize("name", sorted(CAPTURES))
@pytest.mark.parametrize("keys_by", ["file", "dsb"])
def test_every_capture_decrypts(name: str, keys_by: str) -> None:
    version, suite, alpn, connections, requests, responses = CAPTURES[name]
    if keys_by == "file":
        result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    else:
        result = decrypt_capture(DATA / f"{name}.dsb.pcapng")
    assert dict(result.ctx.anomalies.counts) == {}
    assert len(result.tls) == connections
    for tls in result.tls:
        assert (tls.status, tls.version, tls.suite, tls.alpn) == (DECRYPTED, version, suite, alpn)
        assert tls.key_source == keys_by
    check_requests(result.requests(), requests)
    assert all(r.version == ("HTTP/2" if alpn == "h2" else "HTTP/1.1") for r in result.requests())
    assert len(result.responses()) == responses


def test_responses_are_read_and_gzip_undone() -> None:
    name = "tls13-chacha20-http11"
    result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    first, second = result.responses()
    assert second.body == first.body
    assert first.status == 200 and first.encodings == ("gzip",)
    assert first.body == b'{"ok": true, "received": 61}'


@pytest.mark.parametrize("name", ["tls12-resumed-ticket-http11", "tls12-resumed-id-http11"])
def test_tls12_resumption_is_seen_and_decrypted(name: str) -> None:
    result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    assert [t.resumed for t in result.tls] == [False, True]
    assert [t.status for t in result.tls] == [DECRYPTED, DECRYPTED]


def test_key_update_is_followed() -> None:
    name = "tls13-keyupdate-http11"
    result = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    (tls,) = result.tls
    assert tls.key_updates == 1  # the client's; s_server answers it but sends nothing after
    assert [r.target for r in result.requests()] == ["/v1/checkin", "/v1/register"]


def test_early_data_is_read_with_the_early_secret() -> None:
    result = decrypt_capture(DATA / "tls13-early-data-http11.pcap",
                             [DATA / "tls13-early-data-http11.keys"])  # fmt: skip
    first, second = result.tls
    assert (first.early_offered, second.early_offered, second.early_accepted) == (False, True, True)
    assert [r.target for r in result.requests()] == ["/v1/checkin", "/v1/register"]


def test_early_data_without_its_secret_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    keys = tmp_path / "no-early.keys"
    text = (DATA / "tls13-early-data-http11.keys").read_text().splitlines()
    keys.write_text("\n".join(x for x in text if not x.startswith(CLIENT_EARLY_TRAFFIC_SECRET)))
    result = decrypt_capture(DATA / "tls13-early-data-http11.pcap", [keys])
    assert [r.target for r in result.requests()] == ["/v1/checkin"]
    assert result.ctx.anomalies.counts["tls.keys_missing"] == 1
    (sample,) = result.ctx.anomalies.samples
    assert "early data records not read" in sample.detail
    assert [t.status for t in result.tls] == [DECRYPTED, DECRYPTED]


def test_wrong_key_is_one_anomaly_per_direction_and_no_crash() -> None:
    result = decrypt_capture(DATA / "tls13-aes128gcm-http11.pcap",
                             [DATA / "tls13-aes128gcm-http11.wrong.keys"])  # fmt: skip
    assert result.requests() == []
    assert dict(result.ctx.anomalies.counts) == {"tls.decrypt_failed": 2}
    details = sorted(s.detail for s in result.ctx.anomalies.samples)
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET does not open the client's first record" in details[0]
    assert all(s.frame is not None for s in result.ctx.anomalies.samples)
    (tls,) = result.tls
    assert tls.status == WRONG_KEY and tls.done


def test_a_wrong_key_beside_the_right_one_does_not_hide_it() -> None:
    name = "tls13-aes128gcm-http11"
    for order in ([f"{name}.wrong.keys", f"{name}.keys"], [f"{name}.keys", f"{name}.wrong.keys"]):
        result = decrypt_capture(DATA / f"{name}.pcap", [DATA / p for p in order])
        assert dict(result.ctx.anomalies.counts) == {}
        check_requests(result.requests(), 2)


def test_a_stale_file_and_the_capture_dsbs_add_up(tmp_path: Path) -> None:
    result = decrypt_capture(DATA / "tls12-cbc-sha-etm-http11.dsb.pcapng",
                             [DATA / "tls13-aes128gcm-http11.wrong.keys"])  # fmt: skip
    check_requests(result.requests(), 2)
    assert result.tls[0].key_source == "dsb"


def test_without_keys_the_connection_stays_encrypted() -> None:
    result = decrypt_capture(DATA / "tls13-aes128gcm-h2.pcap")
    (tls,) = result.tls
    assert tls.status == KEYS_MISSING and tls.done
    assert result.requests() == []
    assert result.ctx.anomalies.counts == {"tls.keys_missing": 1}
    result = decrypt_capture(DATA / "tls12-ecdhe-chacha20-http11.pcap")
    assert result.tls[0].status == KEYS_MISSING and result.tls[0].done


# -- the streams, fed in other ways ------------------------------------------------------


def tls_streams(name: str) -> tuple[list[Chunk], KeyLog]:
    (chunks,) = flow_chunks(DATA / f"{name}.pcap")[:1]
    return chunks, keylog_of(DATA / f"{name}.keys")


def run(dec: TlsDecryptor, chunks: list[Chunk]) -> list[Piece]:
    out: list[Piece] = []
    for from_client, data, time, frame in chunks:
        out += dec.data(from_client, data, time, frame)
    return out + dec.close()


def plaintext(pieces: list[Piece], from_client: bool) -> bytes:
    return b"".join(p.data for p in pieces if p.from_client == from_client)


@pytest.mark.parametrize(
    "name", ["tls13-aes128gcm-http11", "tls12-cbc-sha384-mte-http11", "tls12-ecdhe-chacha20-http11"]
)
def test_bytes_one_at_a_time_give_the_same_plaintext_and_frames(name: str) -> None:
    chunks, keylog = tls_streams(name)
    whole = run(TlsDecryptor(keylog), chunks)
    single = [(c, data[i : i + 1], t, f) for c, data, t, f in chunks for i in range(len(data))]
    pieces = run(TlsDecryptor(keylog), single)
    for side in (True, False):
        assert plaintext(pieces, side) == plaintext(whole, side)
    assert [(p.from_client, p.frame) for p in pieces] == [(p.from_client, p.frame) for p in whole]
    assert BODY in plaintext(pieces, True)


def test_each_piece_says_where_its_record_started() -> None:
    chunks, keylog = tls_streams("tls13-aes128gcm-http11")
    pieces = run(TlsDecryptor(keylog), chunks)
    requests = [p for p in pieces if p.from_client]
    assert [p.frame for p in requests] == [10, 15]  # the frames tshark shows the POSTs in
    assert requests[0].data.startswith(b"POST /v1/checkin ")


def test_a_damaged_record_is_counted_and_the_connection_goes_on() -> None:
    chunks, keylog = tls_streams("tls12-ecdhe-aes128gcm-http11")
    dec = TlsDecryptor(keylog)
    damaged: list[Chunk] = []
    hit = False
    for c, data, t, f in chunks:
        if c and not hit and b"\x17\x03\x03" in data[:5] and dec.status == DECRYPTED:
            buf = bytearray(data)
            buf[20] ^= 0xFF
            data, hit = bytes(buf), True
        damaged.append((c, data, t, f))
        dec.data(c, data, t, f)
    assert hit
    problems = dec.take_problems()
    assert [p[0] for p in problems] == ["tls.decrypt_failed"]
    assert "client record 1 does not authenticate" in problems[0][2]
    pieces = run(TlsDecryptor(keylog), damaged)
    assert plaintext(pieces, True).count(b"POST ") == 1  # the second request still reads


def test_a_gap_stops_that_direction_only() -> None:
    chunks, keylog = tls_streams("tls13-aes128gcm-http11")
    dec = TlsDecryptor(keylog)
    out: list[Piece] = []
    requests_seen = 0
    for c, data, t, f in chunks:
        if c and data.startswith(b"\x17") and dec.status == DECRYPTED:
            requests_seen += 1
            if requests_seen == 2:
                dec.gap(True, len(data))
                continue
        out += dec.data(c, data, t, f)
    assert [p[0] for p in dec.take_problems()] == ["tls.gap"]
    assert plaintext(out, True).count(b"POST ") == 1
    assert plaintext(out, False).count(b"HTTP/1.1 200") == 2
    assert dec.status == DECRYPTED


def test_not_tls_is_told_once() -> None:
    dec = TlsDecryptor(KeyLog())
    assert dec.data(True, b"GET / HTTP/1.1\r\n\r\n", 1.0, 1) == []
    assert dec.status == NOT_TLS
    assert [p[0] for p in dec.take_problems()] == ["tls.bad_record"]
    assert dec.data(True, b"\x16\x03\x01\x00\x05hello", 1.0, 2) == []
    assert dec.take_problems() == []


def test_oversized_record_length_is_not_buffered() -> None:
    dec = TlsDecryptor(KeyLog())
    dec.data(True, b"\x17\x03\x03" + (MAX_RECORD + 1).to_bytes(2, "big"), 0.0, 1)
    assert dec.status == NOT_TLS


def test_unsupported_version_and_suite() -> None:
    chunks, keylog = tls_streams("tls12-ecdhe-aes128gcm-http11")
    for patch, detail in (((0x03, 0x01), "TLS 1.0 is not decrypted"), (None, "cipher suite")):
        dec = TlsDecryptor(keylog)
        for c, data, t, f in chunks:
            if not c and data[5:6] == b"\x02":  # the ServerHello record
                buf = bytearray(data)
                if patch:
                    buf[9:11] = bytes(patch)  # server_version
                else:
                    sid_len = buf[9 + 2 + 32]
                    at = 9 + 2 + 32 + 1 + sid_len
                    buf[at : at + 2] = b"\x13\x01"  # a TLS 1.3 suite in a TLS 1.2 hello
                data = bytes(buf)
            dec.data(c, data, t, f)
        assert dec.status == UNSUPPORTED and dec.done
        assert detail in dec.take_problems()[0][2]


def test_server_hello_without_client_hello() -> None:
    chunks, keylog = tls_streams("tls13-aes128gcm-http11")
    dec = TlsDecryptor(keylog)
    for c, data, t, f in chunks:
        if not c:
            dec.data(c, data, t, f)
    assert dec.status == INCOMPLETE
    assert dec.take_problems()[0][0] == "tls.keys_missing"


def test_early_data_held_for_the_server_hello_is_bounded() -> None:
    chunks, keylog = tls_streams("tls13-aes128gcm-http11")
    dec = TlsDecryptor(keylog)
    c, hello, t, f = chunks[0]
    dec.data(c, hello, t, f)
    junk = b"\x17\x03\x03\x40\x00" + os.urandom(0x4000)
    for i in range(HOLD_LIMIT // 0x4000 + 2):
        dec.data(True, junk, t, f + 1 + i)
    assert [p[0] for p in dec.take_problems()].count("tls.hold_limit") == 2
    dec.close()
    assert dec.take_problems()[0][0] == "tls.keys_missing"


def test_key_material_never_appears_in_problems_or_reprs() -> None:
    name = "tls13-aes128gcm-http11"
    chunks, keylog = tls_streams(name)
    secrets = [x.split()[2][:16] for x in (DATA / f"{name}.wrong.keys").read_text().splitlines()]
    secrets += [x.split()[2][:16] for x in (DATA / f"{name}.keys").read_text().splitlines()]
    dec = TlsDecryptor(keylog_of(DATA / f"{name}.wrong.keys"))
    pieces = run(dec, chunks)
    text = repr(dec.take_problems()) + repr(pieces) + repr(keylog)
    assert not any(s in text for s in secrets)
    assert dec.key_source is None and SOURCE_FILE == "file"
