"""The ``destination`` object of the scan JSON: who received the data, on which networks,
registered where, and what that means under EU data protection law.

Everything comes from bundled data (:mod:`.ipdb`, :mod:`.entities`, :mod:`.jurisdiction`,
the Public Suffix List), so describing a destination never touches the network, and
:func:`datasets_used` names each data set with its date for the report.
"""

from __future__ import annotations

from typing import Any

from phonehome.enrich import entities, ipdb, jurisdiction
from phonehome.enrich.base import Enricher, Scan
from phonehome.findings import Finding
from phonehome.refdata import datasets, registrable_domain

MAX_NETWORKS = 16
"""A name rarely resolves to more addresses than this; more would only bloat the report."""
MAX_IP_TEXT = 64
"""Longer strings are no address (the longest IPv6 text form is 45 characters)."""
FIRST = "first"
THIRD = "third"
UNKNOWN = "unknown"


def _network(ip: str) -> dict[str, Any]:
    info = ipdb.lookup(ip)
    return {
        "ip": ip,
        "asn": info.asn if info else None,
        "as_org": info.as_org if info else None,
        "country": info.country if info else None,
    }


def _agreed(networks: list[dict[str, Any]], key: str) -> Any:
    values = {n[key] for n in networks}
    return values.pop() if len(values) == 1 else None


def party(host: str, entity: entities.Entity | None, app_packages: list[str]) -> str:
    """``first`` when the host belongs to the app's own organisation, ``third`` when it
    belongs to another known company, ``unknown`` otherwise.

    The app's organisation is read from its package name (``com.example.app`` ->
    ``example.com``): the host's registrable domain equals it, or the host's company is the
    one the package's domain maps to. Without a known app only a tracker is called third
    party, since a tracker SDK is by definition someone else's code in the app.
    """
    domain = registrable_domain(host)
    own_domains = {d for d in (entities.package_domain(p) for p in app_packages) if d}
    if domain is not None and domain in own_domains:
        return FIRST
    if entity is None:
        return UNKNOWN
    own_entities = {e.name for e in (entities.curated_of(d) for d in own_domains) if e}
    if entity.name in own_entities:
        return FIRST
    if own_domains or entity.kind == entities.TRACKER:
        return THIRD
    return UNKNOWN


def country_dataset() -> str:
    """The data set registration countries come from, with version and date."""
    for s in ipdb.sources():
        if "country" in s.name:
            return f"{s.name} {s.version}, {s.date}"
    return "no IP data bundled"


def describe(
    host: str, ips: list[str], *, home_country: str | None, app_packages: list[str]
) -> dict[str, Any]:
    """The ``destination`` object for a host (name or IP literal) and the addresses the
    flows to it went to.

    ``asn``, ``as_org`` and ``country`` are set only when every network agrees;
    ``jurisdiction`` follows :func:`.jurisdiction.assess`. Never raises on odd input: an
    unparsable address is a network with nothing known about it; over-long strings and
    addresses beyond the first :data:`MAX_NETWORKS` are left out.
    """
    unique = list(dict.fromkeys(ip for ip in ips if ip and len(ip) <= MAX_IP_TEXT))
    unique = unique[:MAX_NETWORKS]
    networks = [_network(ip) for ip in unique]
    entity = entities.of_host(host) if host else None
    countries = [n["country"] for n in networks]
    juris = jurisdiction.assess(countries, home_country=home_country, dataset=country_dataset())
    return {
        "registrable_domain": registrable_domain(host) if host else None,
        "entity": entity.name if entity else None,
        "party": party(host, entity, app_packages),
        "networks": networks,
        "asn": _agreed(networks, "asn"),
        "as_org": _agreed(networks, "as_org"),
        "country": _agreed(networks, "country"),
        "jurisdiction": juris.as_dict(),
    }


def datasets_used() -> list[str]:
    """Each data set destinations are described from, with its version and date."""
    out = [f"IP data: {s.name} {s.version} ({s.date})" for s in ipdb.sources()]
    bundled = {d.name: d for d in datasets()}
    exodus = bundled.get("exodus-trackers")
    if exodus is not None:
        out.append(f"Trackers: {entities.EXODUS_SOURCE} ({exodus.date})")
    out.append(
        f"Entities: curated map {entities.ENTITIES_FILE} ({entities.curated_count()} suffixes)"
    )
    out.append(
        f"EU adequacy decisions: {jurisdiction.ADEQUACY_FILE} "
        f"({len(jurisdiction.adequacy_decisions())} countries, as of {jurisdiction.AS_OF})"
    )
    psl = bundled.get("public-suffix-list")
    if psl is not None:
        out.append(f"Public Suffix List: {psl.source} ({psl.date})")
    return out


class DestinationEnricher(Enricher):
    """``destination`` of each finding; ``datasets`` (which reference data said so)."""

    def __init__(self, home_country: str | None = None) -> None:
        self.home_country = home_country
        self._described: dict[tuple[str, tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}

    def finding(self, finding: Finding, scan: Scan) -> None:
        packages = tuple(finding.app.packages) if finding.app else ()
        key = (finding.host, tuple(finding.ips), packages)
        dest = self._described.get(key)
        if dest is None:
            dest = describe(
                finding.host,
                list(finding.ips),
                home_country=self.home_country,
                app_packages=list(packages),
            )
            self._described[key] = dest
        finding.extra["destination"] = dest

    def done(self, scan: Scan) -> None:
        scan.extra["datasets"] = datasets_used()
