"""Co-simulation of the generated attention head with the analog models, against the golden
model, bit for bit (tb.cosim.head_tb does the per-cycle work; these are the scenarios)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hdl.config import HeadConfig
from hdl.schedule import Schedule
from sim.golden import default_times, run_token_by_token
from tb.cosim.head import run_head_cosim
from tb.cosim.runner import REPO_ROOT
from tb.cosim.scoreboard import codes_to_values, make_tokens

pytestmark = pytest.mark.cosim

SMALL = ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"]


def small(*extra: str) -> HeadConfig:
    return HeadConfig().with_overrides([*SMALL, *extra])


def check_timing(res: dict, cfg: HeadConfig) -> None:
    s = Schedule(cfg)
    assert res["latency_cycles"] == s.latency
    # with back-pressure some tokens wait in the FIFO: never faster than the pipeline allows
    assert res["latency_cycles_max"] >= s.latency
    assert res["initiation_interval_cycles"] >= s.initiation_interval


@pytest.mark.slow
@pytest.mark.xdist_group("cosim_default")
def test_default_head_past_the_window_with_backpressure():
    """The paper's head (d=64, 16 tiles, W=1024), 1300 tokens so the circular write overwrites
    the oldest columns, random output back-pressure and input gaps: zero mismatches."""
    cfg = HeadConfig()
    res = run_head_cosim(cfg, tokens=1300, seed=11, backpressure=0.25, gaps=0.1,
                         sim="icarus", tag="default_bp")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 1300
    check_timing(res, cfg)
    assert res["latency_cycles"] <= 65
    s = Schedule(cfg)
    assert s.initiation_interval <= 48


@pytest.mark.xdist_group("cosim_default")
def test_default_head_full_rate_measures_latency_and_ii():
    """No gaps, no back-pressure: the measured latency and initiation interval are exactly
    the schedule's (54 and 31 cycles at defaults, pinned in test_schedule)."""
    cfg = HeadConfig()
    res = run_head_cosim(cfg, tokens=40, seed=3, sim="icarus", tag="default_full")
    s = Schedule(cfg)
    assert res["mismatches"] == 0
    assert res["latency_cycles"] == res["latency_cycles_max"] == s.latency
    assert res["initiation_interval_cycles"] == s.initiation_interval


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.xdist_group("cosim_small")
def test_small_config_both_simulators(sim):
    cfg = small()
    res = run_head_cosim(cfg, tokens=80, seed=5, backpressure=0.4, gaps=0.3, sim=sim,
                         tag=f"small_{sim}")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 80
    assert res["simulator"] == sim
    check_timing(res, cfg)


@pytest.mark.xdist_group("cosim_small")
def test_reset_mid_sequence_restarts_with_an_empty_window():
    """Reset while tokens are in flight: those are lost, and what follows matches a golden
    model that starts from an empty window (stale charge in the arrays never leaks through)."""
    cfg = small()
    res = run_head_cosim(cfg, tokens=60, seed=8, backpressure=0.2, reset_after=25,
                         sim="icarus", tag="small_reset")
    assert res["segments"] == 2
    assert res["mismatches"] == 0
    assert 25 <= res["outputs_compared"] < 60


def test_leakage_with_short_tau_is_visible_and_matched():
    """τ = 1 µs: over the run the stored values decay a lot; the bridge uses simulation time
    and the golden model the observed write/read times — still bit-exact."""
    cfg = small("analog.tau_retention_s=1e-6")
    tokens = make_tokens(cfg, {"seed": 2, "tokens": 50})
    q, k, v = codes_to_values(cfg, *tokens)
    w, r = default_times(50, cfg)
    leaky = run_token_by_token(q, k, v, cfg, write_times_s=w / 20, read_times_s=r / 20)
    ideal = run_token_by_token(q, k, v, small("analog.leakage=off"))
    assert not np.array_equal(leaky.out, ideal.out), "τ too long for decay to show"
    res = run_head_cosim(cfg, tokens=50, seed=2, gaps=0.3, sim="icarus", tag="leak")
    assert res["mismatches"] == 0


def test_variability_with_fixed_seed():
    cfg = small("analog.variability=on", "analog.seed=7", "analog.ir_drop=on")
    res = run_head_cosim(cfg, tokens=40, seed=4, backpressure=0.3, sim="icarus", tag="var")
    assert res["mismatches"] == 0


def test_an_injected_fault_is_reported_with_token_and_dimension():
    """The scoreboard can fail: one sign flipped on the pins for token 6 is caught and named."""
    cfg = small("analog.seed=1")
    res = run_head_cosim(cfg, tokens=20, seed=9, sim="icarus", tag="fault", fault_token=6)
    assert res["mismatches"] >= 1
    first = res["first_mismatch"]
    assert first["token"] == 6 and first["kind"] == "digital sum"
    assert 0 <= first["dim"] < cfg.array.head_dim and first["got"] != first["expected"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tb.cosim.head", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True)


def test_cli_writes_the_summary(tmp_path):
    out = tmp_path / "s.json"
    p = run_cli(*[a for s in SMALL for a in ("--set", s)], "--tokens", "12", "--out", str(out))
    assert p.returncode == 0, p.stderr
    summary = json.loads(out.read_text())
    for key in ("tokens", "mismatches", "latency_cycles", "initiation_interval_cycles",
                "simulated_cycles", "wall_s", "tokens_per_s"):
        assert key in summary
    assert summary["tokens"] == 12 and summary["mismatches"] == 0


@pytest.mark.parametrize("args,message", [
    (["--tokens", "0"], "--tokens must be ≥ 1, not 0"),
    (["--backpressure", "1.5"], "--backpressure must be a probability in [0, 1), not 1.5"),
    (["--gaps", "-0.1"], "--gaps must be a probability in [0, 1), not -0.1"),
    (["--inputs", "nope.npz"], "--inputs 'nope.npz': no such file"),
    (["--set", "array.n_tiles=0"], "array.n_tiles must be an integer from 1 to 256, not 0"),
    (["--sim", "modelsim"], "invalid choice: 'modelsim'"),
])
def test_cli_rejects_bad_arguments(args, message):
    p = run_cli(*args)
    assert p.returncode == 2
    assert message in p.stderr


def test_cli_help():
    p = run_cli("--help")
    assert p.returncode == 0 and "--tokens" in p.stdout and "--config" in p.stdout
