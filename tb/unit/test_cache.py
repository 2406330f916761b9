"""flows.cache: one lock per result (different results build in parallel, the same one waits
and says on what and since when), atomic writes, stable keys."""

from __future__ import annotations

import logging
import threading
import time

from flows import cache


def _hold(lock_file, what, seconds, started: threading.Event):
    with cache.locked(lock_file, what):
        started.set()
        time.sleep(seconds)


def test_different_results_do_not_wait_for_each_other(tmp_path):
    """A long synthesis used to block every other flow on one global lock."""
    started = threading.Event()
    t = threading.Thread(target=_hold, args=(tmp_path / "a" / ".lock", "result A", 2.0, started))
    t.start()
    started.wait(5)
    t0 = time.monotonic()
    with cache.locked(tmp_path / "b" / ".lock", "result B"):
        waited = time.monotonic() - t0
    t.join()
    assert waited < 0.5


def test_the_same_result_waits_and_says_on_what_and_since_when(tmp_path, caplog):
    started = threading.Event()
    lock = tmp_path / "k" / ".lock"
    t = threading.Thread(target=_hold, args=(lock, "synthesis of the head", 1.5, started))
    t.start()
    started.wait(5)
    t0 = time.monotonic()
    with caplog.at_level(logging.INFO, logger="flows.cache"):
        with cache.locked(lock, "synthesis of the head", report_every_s=0.4):
            waited = time.monotonic() - t0
    t.join()
    assert waited >= 1.0                              # it really waited for the holder
    text = caplog.text
    assert f"waiting for synthesis of the head: {lock} is held by pid" in text
    assert "for synthesis of the head" in text        # the holder's note names its job
    assert "still waiting for synthesis of the head (since " in text


def test_write_atomic_and_read_json(tmp_path):
    p = tmp_path / "sub" / "r.json"
    cache.write_atomic(p, '{"a": 1}')
    assert cache.read_json(p) == {"a": 1}
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]     # no temporary left
    assert cache.read_json(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{")
    assert cache.read_json(tmp_path / "bad.json") is None


def test_key_is_stable_and_sensitive():
    assert cache.key({"b": 1, "a": 2}, b"x") == cache.key({"a": 2, "b": 1}, b"x")
    assert cache.key({"a": 2}, b"x") != cache.key({"a": 2}, b"y")
    assert len(cache.key("anything")) == 20


def test_first_unlocked_gives_concurrent_runs_their_own_folder(tmp_path):
    """Two co-simulation runs of one config at once: the second takes the next free lock
    (its own run folder) without waiting; once both are done the first is free again."""
    names = lambda: (tmp_path / f".run-{i}.lock" for i in range(100))   # noqa: E731
    with cache.first_unlocked(names(), "run A") as a:
        t0 = time.monotonic()
        with cache.first_unlocked(names(), "run B") as b:
            assert time.monotonic() - t0 < 0.5
            with cache.first_unlocked(names(), "run C") as c:
                assert (a, b, c) == (0, 1, 2)
    with cache.first_unlocked(names(), "run D") as d:
        assert d == 0
