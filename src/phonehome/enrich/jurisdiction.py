"""Where a registration country stands in EU data protection terms.

Three tiers, as in Chapter V GDPR: the EU/EEA itself, countries with an adequacy decision
(Art. 45; ``data/eu-adequacy.csv`` lists each with its decision and date, and the partial
ones with their scope), and every other third country. The input is the country where an
IP range is *registered*, which is not proof of where the data is processed, so the
``basis`` text always says what the finding rests on and which data set said it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

ADEQUACY_FILE = "eu-adequacy.csv"
AS_OF = "2025-12-19"
"""The newest change ``eu-adequacy.csv`` reflects (the renewal of the UK decisions). Not in
it: Brazil, whose draft decision of 2025-09-05 was still in the adoption procedure."""
EU_EEA_REGION = "EU/EEA"
ADEQUACY = "adequacy"
THIRD_COUNTRY = "third country"

# fmt: off
EU_MEMBERS = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
# fmt: on
"""The 27 member states (ISO 3166 codes: Greece is GR here, EL in EU usage)."""
EU_TERRITORIES = frozenset({"AX", "GF", "GP", "MQ", "RE", "YT", "MF"})
"""Parts of member states with their own ISO code where EU law, GDPR included, applies:
Åland and the outermost regions (French Guiana, Guadeloupe, Martinique, Réunion, Mayotte,
Saint-Martin). The Canaries, Azores and Madeira share ES/PT."""
EEA_ONLY = frozenset({"IS", "LI", "NO"})
"""EEA members outside the EU; the GDPR applies there through the EEA Agreement."""
EU_EEA = EU_MEMBERS | EU_TERRITORIES | EEA_ONLY

_SEVERITY = {EU_EEA_REGION: 0, ADEQUACY: 1, THIRD_COUNTRY: 3}


@dataclass(frozen=True, slots=True)
class Adequacy:
    country: str
    name: str
    decision: str
    adopted: str
    scope: str
    """Empty for a full decision; else who is covered (e.g. ``DPF-certified only``)."""
    source: str


@cache
def adequacy_decisions() -> dict[str, Adequacy]:
    """The bundled list of adequacy decisions, by ISO country code."""
    text = resources.files("phonehome").joinpath("data", ADEQUACY_FILE).read_text("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return {
        row["country"]: Adequacy(
            row["country"],
            row["name"],
            row["decision"],
            row["adopted"],
            row["scope"],
            row["source"],
        )
        for row in reader
    }


def _code(country: str | None) -> str | None:
    if not country:
        return None
    code = country.strip().upper()
    return code if len(code) == 2 and code.isalpha() else None


def region(country: str | None) -> str | None:
    """``EU/EEA``, ``adequacy``, ``adequacy (partial: <scope>)``, ``third country``, or
    None for an unknown or malformed country code."""
    code = _code(country)
    if code is None:
        return None
    if code in EU_EEA:
        return EU_EEA_REGION
    decision = adequacy_decisions().get(code)
    if decision is None:
        return THIRD_COUNTRY
    return f"{ADEQUACY} (partial: {decision.scope})" if decision.scope else ADEQUACY


def region_words(region: str) -> str:
    """A region as a report says it: ``EU adequacy decision``, ``partial EU adequacy
    decision: DPF-certified only`` (the document keeps the short form of
    :func:`region`, which scripts match on; nested brackets read badly in a sentence)."""
    if region == ADEQUACY:
        return "EU adequacy decision"
    prefix = f"{ADEQUACY} (partial: "
    if region.startswith(prefix) and region.endswith(")"):
        return f"partial EU adequacy decision: {region[len(prefix) : -1]}"
    return region


def _rank(name: str) -> int:
    return _SEVERITY.get(name, 2)  # partial adequacy sits between full and none


def out_of_home_region(country: str | None, home_country: str | None) -> bool | None:
    """True when data registered in ``country`` has left the user's home region.

    A home in the EU/EEA makes the whole EU/EEA home (the GDPR applies throughout, and
    transfers within it need no further basis); any other home is just that country.
    None when either side is unknown.
    """
    code, home = _code(country), _code(home_country)
    if code is None or home is None:
        return None
    if home in EU_EEA:
        return code not in EU_EEA
    return code != home


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    region: str | None
    out_of_home_region: bool | None
    basis: str | None

    def as_dict(self) -> dict[str, str | bool | None]:
        return {
            "region": self.region,
            "out_of_home_region": self.out_of_home_region,
            "basis": self.basis,
        }


def assess(countries: list[str | None], *, home_country: str | None, dataset: str) -> Jurisdiction:
    """Jurisdiction of a destination whose addresses are registered in ``countries``.

    When the addresses disagree the least protected region is reported (a user should
    hear about the weakest place the data may have gone), any address outside the home
    region makes the destination out of it, and ``basis`` names every country. Unknown
    countries are left out; with none left everything is None. ``dataset`` names the
    data set and date the countries came from, e.g. ``@ip-location-db/... (2026-06-17)``.
    """
    codes = sorted({c for c in (_code(x) for x in countries) if c is not None})
    if not codes:
        return Jurisdiction(None, None, None)
    regions = [r for r in (region(c) for c in codes) if r is not None]
    worst = max(regions, key=_rank) if regions else None
    outs = [out_of_home_region(c, home_country) for c in codes]
    out = None if any(o is None for o in outs) else any(outs)
    noun = "IP registered in" if len(codes) == 1 else "IPs registered in"
    return Jurisdiction(worst, out, f"{noun} {', '.join(codes)} (per {dataset})")
