"""How bad a finding is, with the reasons a reader can check.

A score adds up independent factors; every factor that moves it says so in one sentence,
so the level can be argued with. The table (also in docs/events.md; the identifier
points are each identifier's ``weight`` in :mod:`phonehome.identifiers`):

| factor | points |
|---|---|
| imei meid imsi iccid msisdn email location cell_id (permanent, subscriber, place) | 3 |
| mac serial (hardware, not tied to the subscriber) | 2 |
| android_id ad_id (resettable, scoped by the platform) | 1 |
| readable on the path: cleartext, or in a TLS/QUIC handshake (server name) | +3 |
| decrypted (sent encrypted; the user supplied decrypted traffic) | 0 |
| encrypted, outside the handshake | -1 |
| received by a third party | +1 |
| outside the home region | +1 |
| a third country (no EU adequacy decision) | +1 |
| frequent: a beacon every hour or more often, or 24 or more sends a day | +1 |
| tied to a device event: p-value < 0.01 over 3 or more events | +1 |
| pattern match with confidence below 0.8 | -1 |

Level: high at 6 or more, medium at 3 to 5, low below 3.
"""

from __future__ import annotations

from typing import Any

from phonehome.enrich.base import Enricher, Scan
from phonehome.findings import Finding
from phonehome.identifiers import CATALOGUE
from phonehome.jsondoc import as_dict, opt_number

HIGH = 6
MEDIUM = 3
SENSITIVITY: dict[str, tuple[int, str]] = {i.id: (i.weight, i.why) for i in CATALOGUE}
"""Points and description of each identifier, from the identifier catalogue."""
FREQUENT_INTERVAL_S = 3600.0
FREQUENT_PER_DAY = 24
REASON_OUTSIDE_HOME = "sent outside the home region"
REASON_THIRD_COUNTRY = "sent to a third country without an EU adequacy decision"
REASON_TRIGGER = "sent within "
"""How the reasons that restate a destination's jurisdiction or a finding's trigger begin:
a report that shows those facts in their own rows refers to them instead of repeating
their figures (rounded differently) a second time."""
TRIGGER_P = 0.01
TRIGGER_MIN_EVENTS = 3
LOW_CONFIDENCE = 0.8


def assess(finding: dict[str, Any]) -> dict[str, Any]:
    """``{"level": "high" | "medium" | "low", "reasons": [sentence, ...]}``."""
    score = 0
    reasons: list[str] = []
    for points, reason in (
        _identifier(finding),
        _readability(finding),
        *_destination(finding),
        _frequency(finding),
        _trigger(finding),
        _confidence(finding),
    ):
        if reason:
            score += points
            reasons.append(reason)
    level = "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"
    return {"level": level, "reasons": reasons}


def _identifier(finding: dict[str, Any]) -> tuple[int, str]:
    name = finding.get("identifier")
    known = SENSITIVITY.get(name) if isinstance(name, str) else None
    if known is None:
        return 2, f"{name or 'an identifier'} (not in the sensitivity table, counted as medium)"
    points, what = known
    return points, f"{name} is {what}"


def _readability(finding: dict[str, Any]) -> tuple[int, str]:
    readability = finding.get("readability")
    where = finding.get("where")
    handshake = isinstance(where, str) and where.startswith(("tls.", "quic."))
    if readability == "cleartext":
        return 3, "sent in clear text: anyone on the network path could read it"
    if readability == "encrypted" and handshake:
        return 3, "sent in the unencrypted part of a TLS/QUIC handshake (the server name)"
    if readability == "encrypted":
        return -1, "sent inside an encrypted connection"
    if readability == "decrypted":
        how = finding.get("decrypted")
        if isinstance(how, dict) and how.get("via"):
            reason = f"sent inside {how['via']}: only the receiver could read it"
            return 0, reason + " (read here with a key log)"
        return 0, "sent encrypted: only the receiver could read it"
    return 0, ""


def _destination(finding: dict[str, Any]) -> list[tuple[int, str]]:
    destination = as_dict(finding.get("destination"))
    jurisdiction = as_dict(destination.get("jurisdiction"))
    out: list[tuple[int, str]] = []
    if destination.get("party") == "third":
        entity = destination.get("entity")
        named = f" ({entity})" if isinstance(entity, str) and entity else ""
        out.append((1, f"received by a third party{named}"))
    basis = jurisdiction.get("basis")
    because = f" ({basis})" if isinstance(basis, str) and basis else ""
    if jurisdiction.get("out_of_home_region") is True:
        out.append((1, f"{REASON_OUTSIDE_HOME}{because}"))
    region = jurisdiction.get("region", destination.get("region"))
    if isinstance(region, str) and "third" in region.lower():
        out.append((1, f"{REASON_THIRD_COUNTRY}{because}"))
    return out


def _frequency(finding: dict[str, Any]) -> tuple[int, str]:
    timeline = as_dict(finding.get("timeline"))
    interval = opt_number(timeline.get("interval_s"))
    if interval is not None and 0 < interval <= FREQUENT_INTERVAL_S:
        return 1, f"sent regularly, every {human_interval(interval)}"
    per_day = as_dict(timeline.get("per_day"))
    counts = [int(n) for n in per_day.values() if opt_number(n) is not None]
    most = max(counts, default=0)
    if most >= FREQUENT_PER_DAY:
        return 1, f"sent up to {most} times a day"
    return 0, ""


def _trigger(finding: dict[str, Any]) -> tuple[int, str]:
    trigger = as_dict(finding.get("trigger"))
    p_value = opt_number(trigger.get("p_value"))
    matched, of = opt_number(trigger.get("matched")), opt_number(trigger.get("of"))
    if p_value is None or matched is None or of is None:
        return 0, ""
    if p_value >= TRIGGER_P or matched < TRIGGER_MIN_EVENTS:
        return 0, ""
    window = opt_number(trigger.get("window_s")) or 5.0
    baseline = opt_number(trigger.get("baseline")) or 0.0
    event = str(trigger.get("event", "event"))
    return 1, (
        f"{REASON_TRIGGER}{window:g} s after {int(matched)} of {int(of)} {event} events "
        f"(by chance {baseline:.1%} of the time, p = {p_value:.1g})"
    )


def _confidence(finding: dict[str, Any]) -> tuple[int, str]:
    confidence = opt_number(finding.get("confidence"))
    if finding.get("profile_match") is True or confidence is None:
        return 0, ""
    if confidence < LOW_CONFIDENCE:
        return -1, f"a pattern match with confidence {confidence:.2g}: may be a false positive"
    return 0, ""


def human_interval(seconds: float) -> str:
    """``30 s``, ``15 min``, ``6 h``: the unit a person would say."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


class SeverityEnricher(Enricher):
    """``severity`` of each finding, from what the enrichers before it found: it runs last."""

    def finding(self, finding: Finding, scan: Scan) -> None:
        facts = {
            "identifier": finding.identifier,
            "readability": finding.readability,
            "where": finding.where,
            "profile_match": finding.profile_match,
            "confidence": round(finding.confidence, 2),  # as the document states it
            "decrypted": finding.decryption,
            **finding.extra,
        }
        finding.extra["severity"] = assess(facts)
