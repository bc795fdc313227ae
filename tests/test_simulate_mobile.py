"""The mobile scenarios (volte, eap-aka, vowifi): valid for tshark, every message tshark
shows is one phonehome shows, and the ground truth is where it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.simulate import SimulationResult, run
from tests import tshark

from .builders_mobile import flows_jsonl

NAMES = ("volte", "eap-aka", "vowifi")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationResult]:
    out = tmp_path_factory.mktemp("mobile")
    return {name: run(name, out / f"{name}.pcap", seed=7) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_tshark_finds_no_malformed_or_warning(
    generated: dict[str, SimulationResult], name: str
) -> None:
    rows = tshark.fields(
        generated[name].capture,
        "frame.number",
        "_ws.expert.message",
        display_filter="_ws.malformed || _ws.expert.severity >= warning",
        two_pass=True,
        prefs={f"{p}.check_checksum": "TRUE" for p in ("tcp", "udp", "ip")},
    )
    assert rows == []


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes(tmp_path: Path, name: str) -> None:
    a = run(name, tmp_path / "a.pcap", seed=3)
    b = run(name, tmp_path / "b.pcap", seed=3)
    c = run(name, tmp_path / "c.pcap", seed=4)
    assert a.capture.read_bytes() == b.capture.read_bytes() != c.capture.read_bytes()


def _by_frame(path: Path, protocol: str) -> dict[int, dict[str, object]]:
    return {int(str(x["frame"])): x for x in flows_jsonl(path) if x["protocol"] == protocol}


def test_volte_sip_as_tshark_reads_it(generated: dict[str, SimulationResult]) -> None:
    path = generated["volte"].capture
    rows = tshark.fields(
        path,
        "frame.number",
        "sip.Method",
        "sip.Status-Code",
        "sip.r-uri",
        "sip.from.addr",
        "sip.contact.uri",
        display_filter="sip",
        two_pass=True,
    )
    ours = _by_frame(path, "sip")
    assert sorted(ours) == [int(r[0]) for r in rows]
    for frame, method, status, ruri, frm, contact in rows:
        line = ours[int(frame)]
        assert (line["sip_method"] or "", str(line["sip_status"] or "")) == (method, status)
        assert (line["sip_uri"] or "", line["sip_from"]) == (ruri, frm)
        assert ",".join(line["sip_contact"]) == contact  # type: ignore[arg-type]


def test_volte_access_network_info_is_tsharks(generated: dict[str, SimulationResult]) -> None:
    """tshark decodes P-Access-Network-Info too: the cell and the access point agree."""
    path = generated["volte"].capture
    truth = json.loads(generated["volte"].truth.read_text())
    cell = next(lk for lk in truth["leaks"] if lk["identifier"] == "cell_id")
    rows = tshark.fields(path, "sip.P-Access-Network-Info", display_filter="sip.Method")
    values = {r[0] for r in rows}
    lte = {v for v in values if v.startswith("3GPP-E-UTRAN-FDD")}
    assert len(lte) == 1 and lte.pop().endswith(f"{int(cell['raw']):07X}")
    assert any(v.startswith("IEEE-802.11") for v in values)


def test_eap_aka_radius_and_eap_as_tshark_reads_them(
    generated: dict[str, SimulationResult],
) -> None:
    path = generated["eap-aka"].capture
    rows = tshark.fields(
        path,
        "frame.number",
        "radius.User_Name",
        "eap.identity.prefix",
        "eap.identity.full",
        display_filter="radius",
    )
    ours = _by_frame(path, "radius")
    assert sorted(ours) == [int(r[0]) for r in rows]
    identities = 0
    for frame, user, prefix, full in rows:
        line = ours[int(frame)]
        assert (line["radius_user"] or "") == user
        if full:
            identities += 1
            assert line["radius_eap_identity"] == prefix.strip("'") + full
    assert identities == 4  # permanent, pseudonym, AT_IDENTITY, re-authentication


def test_vowifi_ike_and_esp_as_tshark_reads_them(generated: dict[str, SimulationResult]) -> None:
    path = generated["vowifi"].capture
    rows = tshark.fields(
        path, "frame.number", "isakmp.exchangetype", "isakmp.messageid", display_filter="isakmp"
    )
    ours = _by_frame(path, "ike")
    assert sorted(ours) == [int(r[0]) for r in rows]
    exchanges = {34: "IKE_SA_INIT", 35: "IKE_AUTH"}
    for frame, exchange, message_id in rows:
        line = ours[int(frame)]
        assert line["ike_exchange"] == exchanges[int(exchange)]
        assert line["ike_message_id"] == int(message_id, 0)
    esp = tshark.fields(path, "frame.number", "esp.spi", display_filter="esp")
    ours_esp = _by_frame(path, "esp")
    assert sorted(ours_esp) == [int(r[0]) for r in esp]
    assert {ours_esp[int(f)]["esp_spi"] for f, _ in esp} == {s for _, s in esp}


def test_vowifi_reports_nothing_a_capture_cannot_read(
    generated: dict[str, SimulationResult],
) -> None:
    """IDi travels inside IKE_AUTH's Encrypted payload: with the device's profile or
    without, a passive capture of Wi-Fi calling names no identifier."""
    r = generated["vowifi"]
    truth = json.loads(r.truth.read_text())
    assert truth["leaks"] == [] and truth["decoys"][0]["value"].startswith("0")
    for device in (["--device", str(r.profile)], []):
        args = ["scan", str(r.capture), "--format", "json", "--no-store", *device]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output  # 0: nothing found
        assert json.loads(res.stdout)["findings"] == []


def _scan(r: SimulationResult, *extra: str) -> list[dict[str, object]]:
    args = ["scan", str(r.capture), "--format", "json", "--no-store", "--reveal", *extra]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output  # 1: findings
    findings: list[dict[str, object]] = json.loads(res.stdout)["findings"]
    return findings


def test_volte_register_gives_the_imei_urn_the_imsi_and_the_cell_to_the_ims_host(
    generated: dict[str, SimulationResult],
) -> None:
    """Issue 12, done when: the REGISTER with the profile's IMEI and IMSI."""
    r = generated["volte"]
    profile = r.profile.read_text()
    found = _scan(r, "--device", str(r.profile))
    register = [f for f in found if str(f["host"]).endswith(".3gppnetwork.org")]
    imei = [f for f in register if f["identifier"] == "imei"]
    assert imei and {f["form"] for f in imei} == {"urn"}
    assert all(f["where"] == "sip.header:Contact.+sip.instance" for f in imei)
    assert all(f["profile_match"] and str(f["value"]) in profile for f in imei)
    imsi = {f["where"] for f in register if f["identifier"] == "imsi" and f["profile_match"]}
    assert {"sip.uri:From", "sip.uri:To", "sip.uri:Contact"} <= imsi
    cells = [f for f in register if f["identifier"] == "cell_id"]
    assert {f["where"] for f in cells} == {"sip.header:P-Access-Network-Info>ecgi"}
    # nothing of it is called an e-mail address
    assert not [f for f in found if f["identifier"] == "email"]


def test_eap_aka_identities_give_imsi_findings_without_a_profile(
    generated: dict[str, SimulationResult],
) -> None:
    r = generated["eap-aka"]
    truth = json.loads(r.truth.read_text())
    imsi = next(x["value"] for x in truth["leaks"] if x["identifier"] == "imsi")
    found = _scan(r)
    got = {(f["where"], f["form"]) for f in found if f["identifier"] == "imsi"}
    assert ("radius.attr:User-Name", "nai-eap-aka") in got
    assert ("radius.attr:EAP-Message>AT_IDENTITY", "nai-eap-aka") in got
    assert {f["value"] for f in found if f["identifier"] == "imsi"} == {imsi}
    # the pseudonym and the re-authentication identity are counted, not reported
    res = CliRunner().invoke(main, ["scan", str(r.capture), "--format", "json", "--no-store"])
    dismissed = json.loads(res.stdout)["not_identifiers"]
    assert {(x["identifier"], x["value"], x["why"]) for x in dismissed} == {
        ("imsi", None, "an EAP pseudonym, not an IMSI"),
        ("imsi", None, "an EAP re-authentication identity, not an IMSI"),
    }
