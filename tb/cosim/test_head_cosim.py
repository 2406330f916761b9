"""Co-simulation of the generated attention head with the analog models, against the golden
model, bit for bit (tb.cosim.head_tb does the per-cycle work; these are the scenarios)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hdl.cli import RunFailed
from hdl.config import HeadConfig
from hdl.head import AttentionHead
from hdl.schedule import Schedule
from sim.golden import default_times, run_token_by_token
from tb.cosim.head import run_head_cosim
from tb.cosim.runner import REPO_ROOT
from tb.cosim.scoreboard import codes_to_values, make_tokens
from tb.cosim.shell import FEED

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
    # the input was valid in every cycle until the last token: admission alone paced the head
    assert res["input_idle_cycles"] == 0 and res["input_valid_cycles"] > 40
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0
    check_event_driven(res)
    check_no_empty_wakes(res)


@pytest.mark.xdist_group("cosim_default")
def test_default_head_icarus_copy_keeps_its_fast_shapes():
    """The Icarus rewrite still matches the default head's shapes (issue 12 once changed them
    unnoticed and Icarus ran 3× slower): the read-out muxes are gated, the counter bank's two
    input transposes run word-wise, every counter plane is written whole, one clocked process."""
    import re

    from flows.sim_prep import _MUX, MIN_SELECTS, prepare_for_icarus
    from tb.cosim.head import generate_head

    _, flat, _ = generate_head(HeadConfig())      # the default tests' copy (cached)
    text, made = prepare_for_icarus(flat.read_text())
    assert made["gated_muxes"] >= 64 and made["bit_permutations"] == 2, made
    assert not [ln for ln in text.split("\n") if _MUX.match(ln) and ln.count("[") >= MIN_SELECTS]
    assert text.count("always @(posedge") == 1
    lanes = HeadConfig().array.n_tiles * HeadConfig().array.head_dim
    writes = re.findall(r"\\cnt\.cnt\d_r\s*(\[\d+:\d+\])?\s*<=", text)
    assert writes and set(writes) == {f"[{lanes - 1}:0]"}, set(writes)


@pytest.mark.xdist_group("cosim_default")
def test_default_head_verilator_copy_keeps_its_fast_shapes():
    """The Verilator rewrite still matches the default head's shapes: every read-out mux is read
    once (one that packs two columns is split per column), so Verilator folds it into the
    first-level adder registers instead of computing it in every cycle; the counter bank's two
    input transposes run on 64-bit lanes."""
    import re

    from flows.sim_prep import _MUX, MIN_SELECTS
    from flows.sim_prep_verilator import _READ, prepare_for_verilator
    from tb.cosim.head import generate_head

    _, flat, _ = generate_head(HeadConfig())      # the default tests' copy (cached)
    text, made = prepare_for_verilator(flat.read_text())
    assert made["split_muxes"] >= 64 and made["lane_gathers"] == 2, made
    text = text.replace(",\n    ", ", ")
    muxes = {m.group(1).strip() for m in map(_MUX.match, text.split("\n"))
             if m and m.group(0).count("[") >= MIN_SELECTS}
    reads = dict.fromkeys(muxes, 0)
    for ln in text.split("\n"):
        m = _MUX.match(ln) or re.match(r"^\s*wire ", ln)
        for r in _READ.finditer(ln.split("=", 1)[1] if _MUX.match(ln) else "" if m else ln):
            if r.group(1).strip() in reads:
                reads[r.group(1).strip()] += 1
    assert len(muxes) >= 640 and max(reads.values()) == 1, sorted(reads.items())[:3]


def check_event_driven(res: dict) -> None:
    """Neither the testbench nor the analog bridge ran once per clock cycle: the testbench woke
    a few times per token (handshakes), the bridge at its ~a dozen control-pin changes."""
    tokens, cycles = res["tokens_sent"], res["simulated_cycles"]
    assert cycles >= 31 * (tokens - 1)
    assert res["testbench_wakeups"] <= 6 * tokens + 200 < cycles
    assert 0 < res["bridge_wakeups"] <= 16 * tokens
    # the simulator process ran with one BLAS thread unless the caller asked otherwise
    assert res["blas_threads"] == os.environ.get("OPENBLAS_NUM_THREADS", "1")
    # pytest rewrote the asserts of the test module alone (tb.cosim.runner), unless asked more
    if "COCOTB_REWRITE_ASSERTION_FILES" not in os.environ:
        assert res["assert_rewritten_modules"] == ["tb.cosim.head_tb"]


def check_no_empty_wakes(res: dict) -> None:
    """At full rate the testbench wakes only for work: per FEED tokens at most once to load a
    batch (its accept log is full then too) and once for the output log, plus once at the end
    of the tail — not again one cycle after a wake because its own writes had not landed when
    it read the alarm (which took ~4 wakes per batch)."""
    batches = -(-res["tokens_sent"] // FEED)
    assert res["testbench_wakeups"] <= 2 * batches + 1, res["testbench_wakeups"]


#: Architecture variants beside the default (clock-gated, tile counters): the paper's ungated
#: periphery and the pulse-sum read-out, gated and ungated, and with its mid-tree register.
VARIANTS = {
    "paper_ungated": ["timing.clock_gating=false"],
    "pulse_sum": ["timing.readout=pulse_sum"],
    "pulse_sum_ungated": ["timing.readout=pulse_sum", "timing.clock_gating=false"],
    "pulse_sum_tree_register": ["timing.readout=pulse_sum", "timing.pulse_tree_register=true"],
    "pingpong": ["timing.schedule=pingpong"],
    "pingpong_pulse_sum": ["timing.schedule=pingpong", "timing.readout=pulse_sum"],
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.xdist_group("cosim_small")
def test_small_variant_bit_exact_with_backpressure(variant):
    """Each architecture option on a small head: random back-pressure and input gaps, every
    output equal to the golden model's, latency as its schedule says."""
    cfg = small(*VARIANTS[variant])
    res = run_head_cosim(cfg, tokens=80, seed=15, backpressure=0.3, gaps=0.2, sim="icarus",
                         tag=f"variant_{variant}")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 80
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0
    check_timing(res, cfg)


@pytest.mark.parametrize("variant", ["paper_ungated", "pulse_sum"])
@pytest.mark.xdist_group("cosim_default")
def test_default_size_variant_full_rate(variant):
    """The paper's head size with the paper's ungated periphery and with the pulse-sum
    read-out: bit-exact, latency and interval measured equal to the schedule's (54 / 31 and
    51 / 31, pinned in test_config)."""
    cfg = HeadConfig().with_overrides(VARIANTS[variant])
    res = run_head_cosim(cfg, tokens=40, seed=3, sim="icarus", tag=f"default_{variant}")
    s = Schedule(cfg)
    assert res["mismatches"] == 0 and res["outputs_compared"] == 40
    assert res["latency_cycles"] == res["latency_cycles_max"] == s.latency
    assert res["initiation_interval_cycles"] == s.initiation_interval


@pytest.mark.parametrize(("variant", "sim"), [("pingpong", "icarus"), ("pingpong", "verilator"),
                                              ("pingpong_pulse_sum", "icarus")])
@pytest.mark.xdist_group("cosim_small")
def test_small_pingpong_full_rate_measures_ii_18(variant, sim):
    """Issue 11 §3: two C2P sets per column used in turn, the V column written right before the
    A fire.  At full rate the co-simulation measures one token every 18 cycles (≤ 20; the
    paper's schedule: 31) with the latency unchanged, every output bit-exact; the bridge
    followed the sets on the pins (a set integrating over a held token would fail the run)."""
    cfg = small(*VARIANTS[variant])
    res = run_head_cosim(cfg, tokens=60, seed=5, sim=sim, tag=f"full_{variant}_{sim}")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 60
    assert res["initiation_interval_cycles"] == 18
    paper = Schedule(small(*[o for o in VARIANTS[variant] if "schedule" not in o]))
    assert res["latency_cycles"] == res["latency_cycles_max"] == paper.latency
    assert res["input_idle_cycles"] == 0
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0
    check_no_empty_wakes(res)


@pytest.mark.slow
@pytest.mark.xdist_group("cosim_default_pingpong")
def test_default_head_pingpong_full_rate():
    """Issue 11 §3 at the paper's size (d=64, 16 tiles, W=1024), full rate: every output
    bit-exact, one token every 18 cycles measured (the paper's schedule: 31), latency 54 as
    before.  Icarus, 60 tokens: a full-head Verilator build costs CI ~10 min; the 1,300-token
    Verilator run (window wrapped, 0 mismatches) is in issue 11's closing note
    (``python -m tb.cosim.head --set timing.schedule=pingpong --tokens 1300 --sim verilator``)
    and the small-config tests here wrap the window on both simulators."""
    cfg = HeadConfig().with_overrides(VARIANTS["pingpong"])
    res = run_head_cosim(cfg, tokens=60, seed=11, sim="icarus", tag="default_pingpong")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 60
    assert res["initiation_interval_cycles"] == 18
    assert res["latency_cycles"] == res["latency_cycles_max"] == 54
    assert res["input_idle_cycles"] == 0
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0


@pytest.mark.xdist_group("cosim_small")
def test_small_pingpong_bursts_gaps_and_reset():
    """Ping-pong under stall bursts (the output FIFO's credit used up), input gaps (a token
    arriving while the other set still fires) and a reset with tokens in flight on both sets:
    nothing lost or mixed up, every output bit-exact."""
    cfg = small("timing.schedule=pingpong")
    res = run_head_cosim(cfg, tokens=160, seed=17, stall_bursts=0.01, backpressure=0.1,
                         gaps=0.1, reset_after=70, sim="verilator", tag="pingpong_bursts")
    assert res["segments"] == 2 and res["mismatches"] == 0
    assert res["outputs_compared"] + res["tokens_dropped_by_reset"] == res["tokens_sent"] == 160
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0
    assert res["max_outstanding_tokens"] == fifo_depth(cfg) == res["out_fifo_depth"] == 4
    assert res["input_held_off_cycles"] > 100
    check_timing(res, cfg)


def fifo_depth(cfg: HeadConfig) -> int:
    head = AttentionHead(cfg)
    head._MustUse__silence = True
    return head.out_fifo_depth


def check_fifo_filled(res: dict, cfg: HeadConfig) -> None:
    """Output stalls of 100–300 cycles: the head kept accepting until the output FIFO's credit
    was used up (outstanding tokens = its depth), then held the input off; nothing was lost."""
    assert res["max_outstanding_tokens"] == fifo_depth(cfg) == res["out_fifo_depth"]
    assert res["input_held_off_cycles"] > 100
    assert res["mismatches"] == 0 and res["tokens_unaccounted"] == 0
    assert res["outputs_compared"] == res["tokens_sent"] == res["tokens"]


@pytest.mark.xdist_group("cosim_default")
def test_default_head_burst_backpressure_fills_the_output_fifo():
    cfg = HeadConfig()
    res = run_head_cosim(cfg, tokens=60, seed=12, stall_bursts=0.01, sim="icarus",
                         tag="default_bursts")
    check_fifo_filled(res, cfg)
    check_timing(res, cfg)


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.xdist_group("cosim_small")
def test_small_burst_backpressure_fills_the_output_fifo(sim):
    cfg = small()
    res = run_head_cosim(cfg, tokens=120, seed=13, stall_bursts=0.01, backpressure=0.1,
                         sim=sim, tag=f"small_bursts_{sim}")
    check_fifo_filled(res, cfg)
    check_timing(res, cfg)


@pytest.mark.slow
@pytest.mark.xdist_group("cosim_default")
def test_default_head_soak_10k_tokens_verilator():
    """The paper's head, 10,000 tokens on Verilator (the window wraps ~10 times) with burst
    back-pressure, per-cycle back-pressure, input gaps and two resets: every output compared,
    every token accounted for, the output FIFO filled, latency and interval per segment."""
    cfg = HeadConfig()
    res = run_head_cosim(cfg, tokens=10_000, seed=21, stall_bursts=0.002, backpressure=0.05,
                         gaps=0.05, reset_after=[3_000, 7_000], sim="verilator", tag="soak")
    assert res["segments"] == 3
    assert res["mismatches"] == 0 and res["tokens_unaccounted"] == 0
    assert res["extra_outputs"] == 0
    assert res["outputs_compared"] + res["tokens_dropped_by_reset"] == res["tokens_sent"] == 10_000
    assert res["max_outstanding_tokens"] == fifo_depth(cfg)
    for seg in res["segment_figures"]:
        assert seg["ii_min"] >= Schedule(cfg).initiation_interval
        assert seg["latency_min"] == Schedule(cfg).latency


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.xdist_group("cosim_small")
def test_small_config_both_simulators(sim):
    cfg = small()
    res = run_head_cosim(cfg, tokens=80, seed=5, backpressure=0.4, gaps=0.3, sim=sim,
                         tag=f"small_{sim}")
    assert res["mismatches"] == 0 and res["outputs_compared"] == 80
    assert res["simulator"] == sim
    check_timing(res, cfg)
    # the same Verilog again: the simulator build is reused, and says so
    again = run_head_cosim(cfg, tokens=3, seed=5, sim=sim, tag=f"small_again_{sim}")
    assert again["build_cached"] is True and again["mismatches"] == 0
    assert again["build_s"] < 5.0


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
    assert res["outputs_compared"] + res["tokens_dropped_by_reset"] == res["tokens_sent"] == 60
    assert res["tokens_unaccounted"] == 0 and res["extra_outputs"] == 0


@pytest.mark.xdist_group("cosim_small")
def test_reset_latency_and_interval_are_measured_per_segment():
    """Full rate, reset after 5 outputs: the interval is never measured across the reset (it
    was 24 < 31 before), every token is either compared or dropped by the reset."""
    cfg = HeadConfig().with_overrides(["array.head_dim=8", "array.n_tiles=2",
                                       "array.tile_cols=8"])
    s = Schedule(cfg)
    res = run_head_cosim(cfg, tokens=20, reset_after=5, sim="icarus", tag="reset_ii")
    assert res["initiation_interval_cycles"] == s.initiation_interval
    assert res["latency_cycles"] == s.latency
    assert [seg["ii_min"] for seg in res["segment_figures"]] == [s.initiation_interval] * 2
    assert res["tokens_sent"] == 20 and res["outputs_received"] == res["outputs_compared"]
    assert res["tokens_dropped_by_reset"] >= 1
    assert res["outputs_compared"] + res["tokens_dropped_by_reset"] == 20
    assert res["tokens_unaccounted"] == 0


def test_error_inside_the_simulation_names_its_first_line_and_log():
    """An error raised inside the cocotb run (here the testbench's timeout) is reported with its
    own message and the log that holds it, not as a bare 'cocotb tests failed'."""
    with pytest.raises(RunFailed) as info:
        run_head_cosim(small(), tokens=10, sim="icarus", tag="timeout", max_cycles=40)
    assert "AssertionError: timeout after" in str(info.value)
    assert info.value.log is not None and info.value.log.name == "sim.log"
    assert "timeout after" in info.value.log.read_text()


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


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_inputs")
    np.savez(d / "dim.npz", q=np.zeros((3, 5)), k=np.zeros((3, 5)), v=np.zeros((3, 5)))
    np.savez(d / "times.npz", q=np.zeros((3, 4)), k=np.zeros((3, 4)), v=np.zeros((3, 4)),
             write_times_s=np.arange(3.0))
    (d / "empty.npz").write_bytes(b"")
    (d / "a_file").write_text("x")
    return d


@pytest.mark.parametrize("args,message", [
    (["--tokens", "0"], "--tokens must be ≥ 1, not 0"),
    (["--backpressure", "1.5"], "--backpressure must be a probability in [0, 1), not 1.5"),
    (["--gaps", "-0.1"], "--gaps must be a probability in [0, 1), not -0.1"),
    (["--stall-bursts", "1"], "--stall-bursts must be a probability in [0, 1), not 1.0"),
    (["--inputs", "nope.npz"], "--inputs 'nope.npz': no such file"),
    (["--inputs", "{d}/dim.npz"], "has head dimension 5, but array.head_dim is 4"),
    (["--inputs", "{d}/times.npz"], "takes its write and read times from the simulated clock"),
    (["--inputs", "{d}/empty.npz"], "is empty (0 bytes), not an .npz archive"),
    (["--seed", "-1"], "argument --seed: must be an integer ≥ 0, not -1"),
    (["--reset-after", "-1"], "argument --reset-after: must be an integer ≥ 1, not -1"),
    (["--set", "analog.quantization=false"], "the co-simulation needs analog.quantization on"),
    (["--set", "timing.t_clk_ns=0.0005"], "timing.t_clk_ns=0.0005 cannot be simulated"),
    (["--set", "array.n_tiles=0"], "array.n_tiles must be an integer from 1 to 256, not 0"),
    (["--sim", "modelsim"], "invalid choice: 'modelsim'"),
    (["--out", "/proc/x.json"], "is not writable"),
    (["--out", "{d}"], "is a folder, not a file"),
    (["--out", "{d}/a_file/x.json"], "is a file, not a folder"),
])
def test_cli_rejects_bad_input_before_building(args, message, bad_files):
    """Every bad input is refused in one line, exit 2, before anything is built or simulated
    (the banner that precedes the build is never printed)."""
    p = run_cli(*[a for s in SMALL for a in ("--set", s)],
                *[a.format(d=bad_files) for a in args])
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert "Traceback" not in p.stderr and "usage:" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "co-simulating" not in p.stdout


def test_cli_bad_simulator_in_environment():
    p = subprocess.run([sys.executable, "-m", "tb.cosim.head"], cwd=REPO_ROOT,
                       capture_output=True, text=True, env={**os.environ, "SIM": "questa"})
    assert p.returncode == 2 and "SIM must be one of icarus, verilator, not 'questa'" in p.stderr


def test_cli_inputs_file_sets_the_token_count(tmp_path):
    """--inputs: the banner and the summary count the file's tokens, not --tokens."""
    q, k, v = (np.random.default_rng(0).uniform(0, hi, (7, 4)) for hi in (1.0, 0.9, 0.9))
    np.savez(tmp_path / "in.npz", q=q, k=k, v=v)
    out = tmp_path / "s.json"
    p = run_cli(*[a for s in SMALL for a in ("--set", s)], "--inputs", str(tmp_path / "in.npz"),
                "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "7 tokens from" in p.stdout
    summary = json.loads(out.read_text())
    assert summary["tokens"] == summary["scenario"]["tokens"] == summary["outputs_compared"] == 7


def test_cli_help():
    p = run_cli("--help")
    assert p.returncode == 0 and "--tokens" in p.stdout and "--config" in p.stdout


def test_very_long_runs_are_announced_with_their_cycles():
    from tb.cosim.head import long_run_warning

    assert long_run_warning(HeadConfig(), 10_000) is None
    cfg = small("array.count_bits=16")
    s = Schedule(cfg)
    msg = long_run_warning(cfg, 64)
    # the counters count up to 2**16 − 1 cycles: integrate 15 + fire 65,535 + reset 1
    assert s.initiation_interval == 15 + 65_535 + 1
    assert f"at least {64 * s.initiation_interval + s.latency:,} cycles" in msg
    assert "64 tokens × 65,551-cycle interval" in msg
