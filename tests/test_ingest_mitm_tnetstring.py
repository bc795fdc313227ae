"""Our tnetstring parse against mitmproxy's: the same value, or the same exception, for
real flow dumps of every flow type, hand-built edge cases and every cut of a dump."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from phonehome.ingest import tnetstring
from tests.needs import need_module
from tests.test_ingest_mitm import dump, http_flow, nested_list, tnet


def _mitm() -> Any:
    return need_module("mitmproxy.io.tnetstring")


def outcome(load: Any, data: bytes) -> list[tuple[str, object]]:
    """Every value ``load`` reads from ``data`` until an exception (its type and text)."""
    stream = io.BufferedReader(io.BytesIO(data))
    out: list[tuple[str, object]] = []
    while True:
        try:
            value = load(stream)
        except Exception as e:  # the exception is part of what must agree
            # (where a RecursionError strikes, and so its text, depends on the stack)
            # and mitmproxy's messages may show a memoryview's address)
            text = "" if isinstance(e, RecursionError) else re.sub(r"0x[0-9a-f]+", "0x", str(e))
            out.append((type(e).__name__, text))
            out.append(("at", stream.tell()))
            return out
        out.append(("value", _typed(value)))


def _typed(value: object) -> object:
    """``value`` with each part's type beside it (1 == True == 1.0 in Python)."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))  # nan is not equal to itself
    return (type(value).__name__, value)


def ours(stream: Any) -> Any:
    return tnetstring.load(stream, _mitm().parse)


def assert_same(data: bytes) -> None:
    assert outcome(ours, data) == outcome(_mitm().load, data)


def test_dumps_of_every_flow_type() -> None:
    tflow = need_module("mitmproxy.test.tflow")
    flows = [
        http_flow(),
        http_flow(body=b"imei=356759041234567", encoding="gzip"),
        http_flow(response=False, version="HTTP/2.0"),
        tflow.tflow(resp=True, err=True),
        tflow.ttcpflow(),
        tflow.tudpflow(),
        tflow.tdnsflow(),
        tflow.twebsocketflow(),
    ]
    data = dump(*flows)
    got = outcome(ours, data)
    assert [kind for kind, _ in got] == ["value"] * len(flows) + ["ValueError", "at"]
    assert got == outcome(_mitm().load, data)


def test_well_formed_dumps_are_parsed_without_mitmproxy() -> None:
    tflow = need_module("mitmproxy.test.tflow")
    flows = [http_flow(body=b"x" * 5000), tflow.tdnsflow(), tflow.twebsocketflow()]
    stream = io.BufferedReader(io.BytesIO(dump(*flows)))

    def refuse(tag: int, payload: memoryview) -> Any:
        raise AssertionError("mitmproxy's parser was needed")

    values = [tnetstring.load(stream, refuse) for _ in flows]
    assert [v["type"] for v in values] == ["http", "dns", "http"]
    assert values[0]["request"]["content"] == b"x" * 5000


def test_every_cut_of_a_dump() -> None:
    data = dump(http_flow())
    for end in range(0, len(data), 7):
        assert_same(data[:end])


@pytest.mark.parametrize(
    "data",
    [
        b"0:,",
        b"5:hello,",
        b"2:\xc3\xa9;",
        b"2:\xc3(;",  # bad UTF-8
        b"3:-12#",
        b"6: +1_2 #",  # int()'s leniencies are mitmproxy's
        b"3:1.5^",
        b"3:nan^",
        b"4:true!",
        b"5:false!",
        b"3:yes!",
        b"0:~",
        b"1:x~",
        b"4:abcd?",  # unknown tag
        b"0:]",
        b"0:}",
        tnet({"a": [1, "x", {"b": 2}], "c": "d"}),
        b"9:1:a,1:b,}",
        b"8:1:a,1:b,]",
        b"6:1:a,1:a,}",  # an odd number of items in a dict
        b"6:0:],0:~}",  # an unhashable key
        b"10:4:true!1:a;}" + b"0:~",
        b"7:1:x,1:y,}",  # declared length one short
        b"8:+1:x,0:~]",  # a signed length prefix inside
        b"9: 1:x,0:~]",
        b"9:-1:x,0:~]",
        b"7:01:x,0:~]",  # leading zero
        b"5:9:xx,]",  # an item longer than its container
        b"3:1:x]",
        b"4:1:x,]",
        b"4:0:x,]",
        b"3::x,]",
        b"2:1:,]",
        b"00003:abc,",
        b"1234567890123:x,",  # a 13-digit length prefix
        b"3:abc",  # no tag
        b"x:abc,",
        b":abc,",
        b"",
        nested_list(tnetstring.MAX_DEPTH - 1),
        nested_list(tnetstring.MAX_DEPTH),
        nested_list(tnetstring.MAX_DEPTH + 1),
        nested_list(200),
        nested_list(5000),  # mitmproxy's recursion runs out: its RecursionError
    ],
)
def test_edge_cases(data: bytes) -> None:
    assert_same(data)


def test_values_follow_one_another() -> None:
    data = tnet({"a": "b"}) + b"0:~" + tnet(["x", 1]) + b"3:abc,"
    got = outcome(ours, data)
    assert [kind for kind, _ in got] == ["value"] * 4 + ["ValueError", "at"]
    assert got == outcome(_mitm().load, data)


def test_compiled_and_interpreted_read_the_same_flows(tmp_path: Path) -> None:
    """The parse is compiled (phonehome.native): both builds give the same flows."""
    from tests.test_ingest_mitm import MISSING_KEYS, TOO_DEEP
    from tests.test_native import flows, need_compiled_install

    need_compiled_install()
    tflow = need_module("mitmproxy.test.tflow")
    good = dump(http_flow(body=b"imei=356759041234567"), tflow.tdnsflow(), tflow.twebsocketflow())
    cases = {
        "good.mitm": good,
        "damaged.mitm": good + MISSING_KEYS + TOO_DEEP + dump(http_flow(response=False)),
        "cut.mitm": good + dump(http_flow())[:-40],
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        compiled = flows(path, pure=False, home=tmp_path / "home")
        assert compiled == flows(path, pure=True, home=tmp_path / "home"), name
        assert compiled[2] == 0 and compiled[0], (name, compiled[1])
