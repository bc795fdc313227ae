"""Country -> EU/EEA, adequacy (full or partial), third country; home region."""

from __future__ import annotations

import pytest

from phonehome.enrich import jurisdiction as j


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("DE", "EU/EEA"),
        ("de", "EU/EEA"),
        ("NO", "EU/EEA"),  # EEA, not EU
        ("IS", "EU/EEA"),
        ("RE", "EU/EEA"),  # Réunion: outermost region of France
        ("CH", "adequacy"),
        ("GB", "adequacy"),
        ("JP", "adequacy"),
        ("KR", "adequacy"),
        ("FO", "adequacy"),
        ("US", "adequacy (partial: DPF-certified only)"),
        ("CA", "adequacy (partial: commercial organisations only)"),
        ("CN", "third country"),
        ("RU", "third country"),
        ("BR", "third country"),  # draft decision only
        ("GL", "third country"),  # Greenland left the EC in 1985
        (None, None),
        ("", None),
        ("XYZ", None),
        ("1A", None),
    ],
)
def test_region(country: str | None, region: str | None) -> None:
    assert j.region(country) == region


@pytest.mark.parametrize(
    ("country", "home", "out"),
    [
        ("CN", "NO", True),
        ("DE", "NO", False),  # EU/EEA is one region for an EU/EEA home
        ("NO", "DE", False),
        ("CH", "DE", True),  # adequacy is still outside the region
        ("US", "US", False),
        ("CA", "US", True),
        ("CN", None, None),
        (None, "NO", None),
    ],
)
def test_out_of_home_region(country: str | None, home: str | None, out: bool | None) -> None:
    assert j.out_of_home_region(country, home) is out


def test_adequacy_list_is_dated_and_sourced() -> None:
    decisions = j.adequacy_decisions()
    assert set(decisions) >= {"AD", "AR", "CA", "CH", "GB", "IL", "JP", "KR", "NZ", "US", "UY"}
    for d in decisions.values():
        assert d.decision and d.source.startswith("https://"), d
        assert len(d.adopted) == 10 and d.adopted <= j.AS_OF, d
    assert not set(decisions) & j.EU_EEA
    assert {c for c, d in decisions.items() if d.scope} == {"US", "CA"}


def test_assess_names_dataset_and_worst_region() -> None:
    one = j.assess(["CN"], home_country="NO", dataset="ds 1.0, 2026-01-01")
    assert one == j.Jurisdiction(
        "third country", True, "IP registered in CN (per ds 1.0, 2026-01-01)"
    )
    mixed = j.assess(["DE", "US", None, "DE"], home_country="DE", dataset="ds")
    assert mixed.region == "adequacy (partial: DPF-certified only)"
    assert mixed.out_of_home_region is True
    assert mixed.basis == "IPs registered in DE, US (per ds)"
    assert j.assess(["DE"], home_country=None, dataset="ds").out_of_home_region is None
    assert j.assess([None], home_country="NO", dataset="ds") == j.Jurisdiction(None, None, None)
