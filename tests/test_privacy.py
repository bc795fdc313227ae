"""The installation key: created once, private, the same for every process that races for it."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from phonehome import privacy
from phonehome.privacy import KEY_BYTES, installation_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_creates_a_private_key_and_then_reuses_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = installation_key(home)
    assert len(key) == KEY_BYTES
    assert (home / "key").read_bytes() == key and mode(home / "key") == 0o600
    assert mode(home) == 0o700
    assert installation_key(home) == key
    assert sorted(p.name for p in home.iterdir()) == ["key"]  # no temporary file left


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o666, 0o600, 0o400])
def test_an_existing_key_readable_by_others_is_tightened(tmp_path: Path, loose: int) -> None:
    key = bytes(range(KEY_BYTES))
    (tmp_path / "key").write_bytes(key)
    os.chmod(tmp_path / "key", loose)
    assert installation_key(tmp_path) == key
    assert mode(tmp_path / "key") == loose & 0o700


@pytest.mark.parametrize("damaged", [b"", b"short", bytes(KEY_BYTES + 1)])
def test_a_damaged_key_is_replaced(tmp_path: Path, damaged: bytes) -> None:
    (tmp_path / "key").write_bytes(damaged)
    key = installation_key(tmp_path)
    assert len(key) == KEY_BYTES and (tmp_path / "key").read_bytes() == key
    assert mode(tmp_path / "key") == 0o600


def test_losing_the_race_for_the_first_key_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another first run writes its key after we found none and before ours is in place.
    winner = b"W" * KEY_BYTES
    real_token_bytes = privacy.secrets.token_bytes

    def other_process_wins(n: int) -> bytes:
        (tmp_path / "key").write_bytes(winner)
        return real_token_bytes(n)

    monkeypatch.setattr(privacy.secrets, "token_bytes", other_process_wins)
    assert installation_key(tmp_path) == winner
    assert (tmp_path / "key").read_bytes() == winner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def _race(home: str, start: Any, out: Any) -> None:
    start.wait()
    out.put(installation_key(Path(home)))


def test_parallel_first_runs_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 8
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0] * n
    keys = {out.get(timeout=5) for _ in procs}
    assert keys == {(tmp_path / "key").read_bytes()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]
