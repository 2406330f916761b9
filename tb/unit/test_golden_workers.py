"""The vectorised golden path on several threads (``run_vectorized(workers=N)``): the serial
run's outputs bit for bit — at the default head, across reference-time changes, batches and a
sink that streams to disk —, the blocks really spread over the threads and their rows arrive in
order, an error in a thread or in the caller's sink stops every thread and is raised, and bad
worker counts are refused with a clear message."""

import dataclasses
import threading

import numpy as np
import pytest

from hdl.config import HeadConfig
from sim.golden import run_vectorized, vectorized, workers as golden_workers
from sim.golden.outputs import Sink, StreamSink
from sim.stimuli import random_tokens

SMALL = HeadConfig().with_overrides(["array.head_dim=16", "array.tile_cols=8",
                                     "array.n_tiles=4"])            # W = 32
NAMES = ("scores", "activations", "tile_outputs", "counts", "out")


def _same_bits(a, b):
    for n in NAMES:
        x, y = getattr(a, n), getattr(b, n)
        assert (x is None) == (y is None), n
        if x is None:                   # not kept
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, n
        if x.dtype == np.float64:       # −0.0 is not 0.0 here
            x, y = x.view(np.uint64), y.view(np.uint64)
        np.testing.assert_array_equal(x, y, err_msg=n)


def _live_workers():
    return [t for t in threading.enumerate() if t.name.startswith("golden-blocks-")]


@pytest.mark.parametrize("workers,block", [(2, 128), (3, 64)])
def test_workers_give_the_serial_bits_at_the_default_head(workers, block):
    cfg = HeadConfig()                                   # d = 64, 16 tiles, W = 1024
    q, k, v = random_tokens(cfg, 1500, 4)
    _same_bits(run_vectorized(q, k, v, cfg, workers=workers, block=block),
               run_vectorized(q, k, v, cfg))


def test_workers_follow_the_serial_plan_across_reference_times():
    """Reads spanning many leakage spans: the plan changes its reference time several times;
    every thread uses the serial run's, so the bits are the same."""
    cfg = dataclasses.replace(SMALL, analog=dataclasses.replace(SMALL.analog,
                                                                tau_retention_s=1e-6))
    T = 2000
    q, k, v = random_tokens(cfg, T, 5)
    w = np.arange(T) * 1e-7
    head = vectorized._Head(q, k, v, cfg, w, w, 40)
    refs = {ref for _, _, ref in head.plan()}
    assert len(refs) >= 4                                # the path under test
    serial = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w, block=40)
    assert np.abs(serial.out).max() > 0
    _same_bits(run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w, block=40,
                              workers=3), serial)


def test_workers_on_a_batch_and_a_stream_to_disk(tmp_path):
    q, k, v = random_tokens(SMALL, 300, 6)
    qb, kb, vb = (np.stack([a, a[::-1]]) for a in (q, k, v))
    serial = run_vectorized(qb, kb, vb, SMALL, block=16)
    _same_bits(run_vectorized(qb, kb, vb, SMALL, block=16, workers=2), serial)
    # a StreamSink takes rows in order only: the caller puts them in order
    sink = StreamSink(tmp_path / "o.npz", 300, SMALL, batch=2)
    run_vectorized(qb, kb, vb, SMALL, block=16, workers=3, sink=sink)
    with np.load(sink.close({})) as f:
        for n in NAMES:
            np.testing.assert_array_equal(f[n], getattr(serial, n), err_msg=n)


@pytest.mark.parametrize("case", ["dense", "float counts", "out only"])
def test_workers_in_every_output_mode(case):
    """Rows that are not written in place (dense layout, float counts) or not kept at all
    go through the caller's put: the same as one worker."""
    cfg, kw = SMALL, {}
    if case == "dense":
        kw = {"layout": "dense"}
    elif case == "float counts":
        cfg = dataclasses.replace(SMALL, analog=dataclasses.replace(SMALL.analog,
                                                                    quantization=False))
    else:
        kw = {"outputs": ("out",)}
    q, k, v = random_tokens(cfg, 200, 10)
    serial = run_vectorized(q, k, v, cfg, block=16, **kw)
    _same_bits(run_vectorized(q, k, v, cfg, block=16, workers=3, **kw), serial)
    if case == "dense":
        assert serial.scores.shape == (200, 200)
    elif case == "float counts":
        assert serial.counts.dtype == np.float64
    else:
        assert serial.scores is None and serial.out is not None


def test_blocks_spread_over_the_threads_and_are_put_in_order(monkeypatch):
    ran, put = [], []
    block, real_put = vectorized._Worker.block, Sink._write

    def spy_block(self, t0, t1, ref, rows):
        ran.append((t0, threading.current_thread().name))
        return block(self, t0, t1, ref, rows)

    def spy_write(self, name, b, t0, t1, v):
        if name == "out":
            put.append((t0, threading.current_thread().name))
        return real_put(self, name, b, t0, t1, v)

    monkeypatch.setattr(vectorized._Worker, "block", spy_block)
    monkeypatch.setattr(Sink, "_write", spy_write)
    q, k, v = random_tokens(SMALL, 200, 7)
    run_vectorized(q, k, v, SMALL, block=20, workers=2)
    # block i on thread i mod 2
    assert sorted(ran) == [(t0, f"golden-blocks-{t0 // 20 % 2}") for t0 in range(0, 200, 20)]
    me = threading.current_thread().name
    assert put == [(t0, me) for t0 in range(0, 200, 20)]
    assert not _live_workers()


def test_more_workers_than_blocks_start_one_thread_per_block(monkeypatch):
    names, block = set(), vectorized._Worker.block

    def spy(self, *args):
        names.add(threading.current_thread().name)
        return block(self, *args)

    monkeypatch.setattr(vectorized._Worker, "block", spy)
    q, k, v = random_tokens(SMALL, 50, 3)
    serial = run_vectorized(q, k, v, SMALL, block=20)
    assert names == {threading.current_thread().name}           # one worker: this thread
    names.clear()
    _same_bits(run_vectorized(q, k, v, SMALL, block=20, workers=8), serial)
    assert names == {"golden-blocks-0", "golden-blocks-1", "golden-blocks-2"}
    assert not _live_workers()


def test_an_error_in_a_worker_stops_the_others_and_is_raised(monkeypatch):
    block, ran = vectorized._Worker.block, []

    def failing(self, t0, t1, ref, rows):
        ran.append(t0)
        if t0 == 60:
            raise RuntimeError("injected failure in block 60")
        return block(self, t0, t1, ref, rows)

    monkeypatch.setattr(vectorized._Worker, "block", failing)
    q, k, v = random_tokens(SMALL, 2000, 8)
    with pytest.raises(RuntimeError, match="injected failure in block 60"):
        run_vectorized(q, k, v, SMALL, block=20, workers=2)
    assert 60 in ran and len(ran) < 100                  # stopped long before the end
    assert not _live_workers()


def test_an_error_in_the_callers_sink_stops_the_workers(monkeypatch):
    real, ran = Sink._write, []
    block = vectorized._Worker.block

    def counting(self, t0, t1, ref, rows):
        ran.append(t0)
        return block(self, t0, t1, ref, rows)

    def failing(self, name, b, t0, t1, v):
        if t0 == 40:
            raise OSError("injected: disk full")
        return real(self, name, b, t0, t1, v)

    monkeypatch.setattr(vectorized._Worker, "block", counting)
    monkeypatch.setattr(Sink, "_write", failing)
    q, k, v = random_tokens(SMALL, 2000, 9)
    with pytest.raises(OSError, match="disk full"):
        run_vectorized(q, k, v, SMALL, block=20, workers=2)
    # each thread holds at most QUEUED finished blocks and one in hand
    assert len(ran) <= 3 + 2 * (golden_workers.QUEUED + 1)
    assert not _live_workers()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_worker_counts_are_refused(bad):
    q, k, v = random_tokens(SMALL, 10, 0)
    with pytest.raises(ValueError, match=rf"^workers must be a positive integer, not "
                                         rf"{repr(bad)}$"):
        run_vectorized(q, k, v, SMALL, workers=bad)
