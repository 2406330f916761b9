"""The whole prototype path in simulation: the host session drives the board top's UART pins
bit by bit (host → link → head under a clock enable → twin → head → link → host), and the twin's
integer reference agrees with the golden model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from analog_models.dac import kv_code, query_code
from flows.fpga.boards import BOARDS
from flows.fpga.simboard import Fault, simulate_board
from hdl.config import HeadConfig
from hdl.fpga.twin import min_time_scale
from sim.golden import run
from sim.stimuli import random_tokens
from sim.twin import golden_agreement, run_twin, twin_config

#: Small board config; saturation lowered so that counts span 0..15 with random tokens.
SIM_CFG = ["array.head_dim=4", "array.n_tiles=2", "array.tile_cols=4",
           "analog.s_sat1_uA=10", "analog.s_sat2_uA=3"]


@pytest.mark.slow
def test_simulated_board_past_the_wrap_with_line_faults():
    cfg = HeadConfig().with_overrides(SIM_CFG)
    T = cfg.array.window + 204
    qf, kf, vf = random_tokens(cfg, T, 5)
    q, k, v = query_code(qf, cfg), kv_code(kf, cfg), kv_code(vf, cfg)
    # host → board: one byte flipped in the 30th frame sent, one dropped from the 120th
    r = simulate_board(cfg, q, k, v, divisor=2,
                       faults=[Fault(frame=30, offset=4, xor=0x21), Fault(frame=120, offset=3,
                                                                             xor=None)])
    s = r.session
    assert r.faults_applied == 2
    assert s.done and s.n_out == T
    assert s.errors.mixed_up == 0 and s.errors.duplicated == 0
    got = np.array(s.outputs)
    values, _ = run_twin(cfg, q, k, v)
    expect = values.sum(axis=1)
    assert np.array_equal(got, expect), f"{int((got != expect).sum())} mismatches"
    assert (expect != 0).mean() > 0.5 and np.abs(expect).max() >= 15   # not a trivial stream
    st = s.status
    # both damaged frames detected by the board, reported, and resent by the host
    assert st["crc_errors"] == 2 and s.errors.naks.get("crc") == 2 and s.errors.resends >= 2
    assert st["tokens"] == T and st["outputs"] == T and st["twin_late"] == 0
    assert st["overruns"] == 0 and st["time_scale"] == r.min_time_scale
    # the head's sums against the golden model (float): each tile may differ by one count
    golden = run(qf, kf, vf, twin_config(cfg)).out
    assert np.abs(got - golden).max() <= cfg.array.n_tiles
    assert (got == golden).mean() >= 0.995


def test_damaged_frames_from_the_board_are_detected_and_reported_missing():
    """Board → host: a flipped byte, a dropped byte and the last output frame damaged.  The
    host counts each bad frame; a lost output is reported missing (a gap in the sequence
    numbers, or — the last one — from the board's status), never guessed or mixed up."""
    from hdl.fpga.protocol import RSP_OUT

    cfg = HeadConfig().with_overrides(SIM_CFG)
    T = 24
    q, k, v = (query_code(x, cfg) if i == 0 else kv_code(x, cfg)
               for i, x in enumerate(random_tokens(cfg, T, 4)))
    # board frames: the reset's ACK, per token an ACK and an output, then the status
    r = simulate_board(cfg, q, k, v, divisor=2,
                       faults=[Fault(frame=9, offset=3, xor=0x44, to_host=True),
                               Fault(frame=20, offset=2, xor=None, to_host=True),
                               Fault(frame=2 * T, offset=4, xor=0x01, to_host=True)])
    s = r.session
    codes = r.extra["damaged_to_host"]
    lost = sum(c == RSP_OUT for c in codes)
    assert r.faults_applied == len(codes) == 3 and codes[-1] == RSP_OUT and lost >= 2
    assert s.done and s.errors.bad_frames == 3
    assert s.errors.mixed_up == 0 and s.errors.duplicated == 0
    assert s.errors.lost_outputs == lost == sum(o is None for o in s.outputs)
    assert s.outputs[-1] is None and s.status["outputs"] == T
    expect = run_twin(cfg, q, k, v)[0].sum(axis=1)
    for t, o in enumerate(s.outputs):
        assert o is None or np.array_equal(o, expect[t]), t


def test_back_pressure_from_a_slow_head_reaches_the_host():
    """R set by the host (CMD_TIME_SCALE) to 6× the minimum: the head is slower than the link,
    the host waits for credit (outputs) instead of overrunning the token buffer."""
    cfg = HeadConfig().with_overrides(SIM_CFG)
    q, k, v = (query_code(x, cfg) if i == 0 else kv_code(x, cfg)
               for i, x in enumerate(random_tokens(cfg, 14, 9)))
    r6 = 6 * min_time_scale(cfg)
    r = simulate_board(cfg, q, k, v, divisor=2, token_credit=2, host_time_scale=r6)
    s = r.session
    assert s.n_out == 14 and s.status["time_scale"] == r6
    assert s.credit_waits > 0 and s.status["refused"] == 0 and s.status["overruns"] == 0
    assert np.array_equal(np.array(s.outputs), run_twin(cfg, q, k, v)[0].sum(axis=1))


@pytest.mark.parametrize("extra", [[], ["analog.nonlinearity=false", "analog.offset=false"]])
def test_twin_agrees_with_golden(extra):
    """The iCEBreaker prototype config, 2,000 tokens (the issue's figure)."""
    cfg = HeadConfig().with_overrides([*BOARDS["icebreaker"].overrides, *extra])
    r = golden_agreement(cfg, *random_tokens(cfg, 2000, 11))
    a = cfg.array
    assert r["compared"] == 2000 * a.n_tiles * a.head_dim and r["nonzero_fraction"] > 0.3
    assert r["equal_fraction"] >= 0.999 and r["max_abs_diff"] <= 1
    # every disagreement sits within the fixed-point error of a rounding boundary
    assert all(d["boundary_distance"] < 2e-3 for d in r["disagreements"])


@pytest.mark.parametrize("board, uart_pins", [("ulx3s-85f", ("L4", "M1")),
                                              ("icebreaker", ("9", "6"))])
def test_board_top_drives_only_its_own_pins(board, uart_pins, monkeypatch):
    """The constraints of the board top name the UART and LED pins — and on the ULX3S not L3
    (the FT231X's TXDEN, an output of the USB bridge: driving it would fight the bridge)."""
    from hdl.fpga.top import BoardTop
    from sim.twin import twin_tables

    monkeypatch.setenv("OPENFPGALOADER", "true")
    spec = BOARDS[board]
    cfg = HeadConfig().with_overrides(SIM_CFG)
    plan = spec.platform().prepare(BoardTop(cfg, twin_tables(cfg), baud=spec.baud), name="top")
    cons = next(text for name, text in plan.files.items() if name.endswith((".lpf", ".pcf")))
    cons = cons.decode() if isinstance(cons, bytes) else cons
    sites = set(re.findall(r'(?:SITE|set_io\s+\S+)\s+"?(\w+)"?', cons))
    assert set(uart_pins) <= sites
    if board == "ulx3s-85f":
        assert "L3" not in sites, cons
