"""Community ID v1 against the specification's published baseline vectors."""

from __future__ import annotations

import pytest

from phonehome.net.community_id import community_id

# corelight/community-id-spec baseline/baseline_deflt.json and baseline_seed1.json
VECTORS = [
    ("tcp", "128.232.110.120", 34855, "66.35.250.204", 80,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
    ("udp", "192.168.1.52", 54585, "8.8.8.8", 53,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
    ("tcp", "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
    ("sctp", "192.168.170.8", 7, "192.168.170.56", 7,
     "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
    ("tcp", "1.2.3.4", 1122, "5.6.7.8", 3344,
     "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
    ("udp", "1.2.3.4", 1122, "5.6.7.8", 3344,
     "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
]  # fmt: skip


@pytest.mark.parametrize(("transport", "a", "ap", "b", "bp", "seed0", "seed1"), VECTORS)
def test_baseline_vectors_both_directions(
    transport: str, a: str, ap: int, b: str, bp: int, seed0: str, seed1: str
) -> None:
    assert community_id(transport, a, ap, b, bp) == seed0
    assert community_id(transport, b, bp, a, ap) == seed0
    assert community_id(transport, a, ap, b, bp, seed=1) == seed1
    assert community_id(transport, b, bp, a, ap, seed=1) == seed1


def test_transport_matters() -> None:
    assert community_id("tcp", "1.2.3.4", 1, "5.6.7.8", 2) != community_id(
        "udp", "1.2.3.4", 1, "5.6.7.8", 2
    )


@pytest.mark.parametrize(
    "args",
    [
        ("icmp", "1.2.3.4", 8, "5.6.7.8", 0),
        ("tcp", "1.2.3.4", 1, "::1", 2),
        ("tcp", "1.2.3.4", 70000, "5.6.7.8", 2),
        ("tcp", "not-an-ip", 1, "5.6.7.8", 2),
    ],
)
def test_bad_input_raises_value_error(args: tuple[str, str, int, str, int]) -> None:
    with pytest.raises(ValueError):
        community_id(*args)
