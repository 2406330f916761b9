"""flows.ppa and flows.ppa.activity on a reduced head (real synthesis + Icarus, ~20 s cold)."""

from __future__ import annotations

import json

import pytest

from flows import ppa as P
from flows.ppa import energy as E
from hdl.config import load_config
from hdl.schedule import Schedule

pytestmark = pytest.mark.xdist_group("flows-synth")  # shares build/synth/cache with test_synth

SMALL = ["array.n_tiles=4", "array.head_dim=8"]


@pytest.fixture(scope="module")
def small_report():
    cfg = load_config(None, SMALL)
    return cfg, P.run_ppa(cfg, n_tokens=12, seed=1)


def test_ppa_schema_and_consistency(small_report):
    cfg, r = small_report
    assert r["schema"] == "gca-ppa-report/1" and r["config_hash"] == cfg.hash
    e = r["energy_pJ"]
    assert e["analog_reference"] == E.analog_energy(cfg)
    assert e["analog_data"] == E.analog_energy(cfg, q_duty=r["activity"]["q_duty"],
                                               a_duty=r["activity"]["a_duty"])
    assert set(e["digital"]) == set(E.TECH_BY_NAME)
    for name, d in e["digital"].items():
        assert d == E.digital_energy(r["activity"]["per_token"], E.tech_preset(name))
        assert d["total"] > 0
    assert e["digital_selected"] == e["digital"][cfg.tech.preset]["total"]
    assert e["head_total"] == pytest.approx(e["analog_data"]["total"] + e["digital_selected"])
    assert e["paper_total"] == pytest.approx(6150)
    assert r["latency"]["latency_cycles"] == Schedule(cfg).latency
    names = [row["name"] for row in r["comparison"]["this_work"]]
    assert names[1:] == ["RTX 4090", "Jetson Nano", "HBM floor FP16", "HBM floor INT8",
                         "HBM floor 3-bit"]
    axes = {s["axis"] for s in r["sweep"]}
    assert axes == {"window", "head_dim", "heads"}
    h12 = [s for s in r["sweep"] if s["axis"] == "heads" and s["value"] == 12][0]
    h1 = [s for s in r["sweep"] if s["axis"] == "heads" and s["value"] == 1][0]
    assert h12["energy_pJ"] == pytest.approx(12 * h1["energy_pJ"])


def test_activity_runs_at_the_initiation_interval(small_report):
    cfg, r = small_report
    act = r["activity"]
    s = Schedule(cfg)
    # Tokens offered back to back: the head accepts one every II cycles.
    assert act["cycles_per_token"] == pytest.approx(s.initiation_interval)
    assert act["n_ff"] == r["synthesis"]["head"]["n_ff"]
    # Clock gating (the default): ungated FFs every cycle, each gate's FFs on its enabled
    # cycles, each gate itself every cycle.
    ii = s.initiation_interval
    groups = act["enable_groups"]
    assert act["n_icg"] == len(groups) == r["synthesis"]["head"]["transistors"]["n_icg"] > 0
    tr = r["synthesis"]["head"]["transistors"]
    assert tr["icg"] == tr["n_icg"] * tr["icg_each"] == tr["n_icg"] * 18
    assert tr["total"] == tr["gates"] + tr["ff"] + tr["icg"]
    assert act["enables_unobserved"] == 0
    assert act["per_token"]["ff_clock_events"] == pytest.approx(
        (act["n_ff"] - act["n_ff_gated"]) * ii + sum(n * c for n, c in groups))
    assert act["per_token"]["icg_clock_events"] == pytest.approx(len(groups) * ii)
    # By hand from the schedule: the counter planes (n·d channels × count_width bits) load on
    # the clear and the count_max cycles of the count window; the adder-tree stages once.
    a = cfg.array
    counters = [c for n, c in groups if n == a.n_channels * a.count_width]
    assert counters == [pytest.approx(1 + a.count_max)]
    d = a.head_dim
    level1 = [c for n, c in groups if n == d * (a.n_tiles // 2) * (a.count_width + 1)]
    assert level1 == [pytest.approx(1.0)]


def test_ungated_activity_clocks_every_ff_every_cycle(tmp_path):
    """The paper's periphery (clock_gating off): no enable flip-flop, every FF clocked every
    cycle, no clock gate."""
    cfg = load_config(None, SMALL + ["timing.clock_gating=false"])
    r = P.run_ppa(cfg, n_tokens=8, sweep=False)
    act = r["activity"]
    ii = Schedule(cfg).initiation_interval
    assert act["n_ff_gated"] == act["n_icg"] == 0 and act["enable_groups"] == []
    assert act["per_token"]["ff_clock_events"] == pytest.approx(act["n_ff"] * ii)
    assert act["per_token"]["icg_clock_events"] == 0
    assert act["output_mismatches"] == 0
    assert act["unmapped_toggles"] == 0
    # The simulated netlist returned, for every token, the sum over tiles of sign·count the
    # stimulus implies (so the pulses reached the counters at the right cycles).
    assert act["outputs_checked"] == act["tokens_simulated"] and act["output_mismatches"] == 0
    assert act["mean_count"] > 0.5
    assert 0 < act["per_token"]["ff_data_toggles"] < act["per_token"]["net_toggles"]
    assert 0 < act["q_duty"] < 1 and 0 <= act["a_duty"] <= 1


def test_write_ppa_outputs(small_report, tmp_path):
    _, r = small_report
    paths = P.write_ppa(r, tmp_path)
    names = {p.name for p in paths}
    assert {"ppa.json", "ppa.md", "energy_breakdown.png", "comparison.png",
            "area_breakdown.png", "scaling.png"} <= names
    for p in paths:
        assert p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = json.loads((tmp_path / "ppa.json").read_text())
    assert back["config_hash"] == r["config_hash"]
    md = (tmp_path / "ppa.md").read_text()
    assert "batch of 64" in md and "RTX 4090" in md and "HBM floor 3-bit" in md


def test_cli_help_and_bad_config(capsys):
    with pytest.raises(SystemExit) as e:
        P.main(["--help"])
    assert e.value.code == 0
    assert "--config" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        P.main(["--set", "tech.preset=nope"])
    assert e.value.code == 2


def test_variant_table_on_a_small_head(tmp_path, capsys):
    """`python -m flows.ppa --variants`: every built variant side by side, each from its own
    synthesis and activity run; the figures that must hold whatever the technology numbers."""
    from flows.ppa.cli import main
    from flows.ppa.variants import MISSING, VARIANTS

    assert main([*sum((["--set", o] for o in SMALL), []), "--no-sweep", "--tokens", "8",
                 "--variants", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "variants.json").read_text())["variants"]
    by = {r["variant"]: r for r in rows}
    assert list(by) == list(VARIANTS)
    paper, gated, psum = by["paper default"], by["+ clock gating"], by["+ pulse_sum"]
    for name, r in by.items():
        cfg = load_config(None, SMALL + VARIANTS[name][0])
        assert r["config_hash"] == cfg.hash and r["output_mismatches"] == 0
        assert (r["latency_cycles"], r["ii_cycles"]) == (Schedule(cfg).latency,
                                                         Schedule(cfg).initiation_interval)
    assert paper["n_icg"] == 0 and gated["n_icg"] > 0 and psum["n_icg"] > 0
    assert gated["digital_pJ"] < paper["digital_pJ"]           # gating saves clock energy
    assert psum["n_ff"] < gated["n_ff"]                         # no per-tile counters
    assert psum["latency_cycles"] < gated["latency_cycles"]
    # ping-pong: II 18 (≤ 20) at the same latency; twice the C2P circuits' area
    pp = by["+ ping-pong"]
    assert pp["ii_cycles"] == 18 < gated["ii_cycles"] and pp["latency_cycles"] == \
        gated["latency_cycles"]
    a = load_config(None, SMALL).array
    c2p_um2 = float(E.analog_preset("paper").c2p_area_um2) * (a.window + a.n_channels)
    analog = {n: by[n]["area_um2"] - by[n]["digital_area_um2"] for n in by}
    assert analog["+ ping-pong"] - analog["+ clock gating"] == pytest.approx(c2p_um2)
    # the table is in ppa.md (printed), with the missing variant named
    for name in [*VARIANTS, *MISSING]:
        assert f"| {name} |" in out
    assert "Against the paper's figures" in out


def _small_netlist(overrides: list[str]):
    from flows.synth import run_synth
    from flows.tools import ROOT
    from hdl.registry import HEAD_BLOCK

    cfg = load_config(None, overrides)
    head = run_synth(cfg, [HEAD_BLOCK], ["generic"])["blocks"][HEAD_BLOCK]["targets"]["generic"]
    return cfg, ROOT / head["netlist"], ROOT / head["netlist_json"]


def test_verilator_and_icarus_count_the_same_activity():
    """The full head's activity runs on Verilator (Icarus took > 30 min); both simulators
    must give the same counts, bit for bit, on the same netlist and stimulus (gated head: the
    enable duty, read from the VCD, included)."""
    from flows.ppa.activity import simulate_activity

    cfg, v, j = _small_netlist(SMALL)
    runs = {sim: simulate_activity(cfg, v, j, n_tokens=8, seed=2, simulator=sim)
            for sim in ("icarus", "verilator")}
    assert {s: r["simulator"] for s, r in runs.items()} == {"icarus": "icarus",
                                                             "verilator": "verilator"}
    timing = {"simulator", "method", "work", "cached", "seconds", "build_seconds",
              "build_cached", "simulation_seconds", "vcd_parse_seconds"}
    ic, vl = ({k: x for k, x in r.items() if k not in timing} for r in runs.values())
    assert ic == vl
    assert ic["output_mismatches"] == 0 and ic["unmapped_toggles"] == 0
    assert ic["enables_unobserved"] == 0 and ic["per_token"]["net_toggles"] > 0


def test_auto_simulator_by_netlist_size(tmp_path):
    """`auto`: Icarus for a small netlist (it compiles in a second; a Verilator build takes
    minutes), Verilator (installed with the project) for a large one."""
    from flows.ppa.gatesim import AUTO_VERILATOR_BYTES, resolve_simulator

    small, big = tmp_path / "small.v", tmp_path / "big.v"
    small.write_text("module m; endmodule\n")
    with open(big, "wb") as f:
        f.truncate(AUTO_VERILATOR_BYTES + 1)
    assert resolve_simulator("auto", small) == "icarus"
    assert resolve_simulator("auto", big) == "verilator"
    assert resolve_simulator("icarus", big) == "icarus"
    with pytest.raises(ValueError, match="unknown simulator 'ghdl'; known: auto, verilator"):
        resolve_simulator("ghdl")


def test_python_exception_in_synthesis_is_a_failed_run(tmp_path, capsys, monkeypatch):
    """A Python exception inside synthesis is the run failing (`failed:`, exit 1), not bad
    input (`error:`, exit 2): it used to come out as `error:` when it was a ValueError."""
    import flows.synth.flow as synth_flow
    from flows.ppa.cli import main

    def broken(*args, **kwargs):
        raise ValueError("netlist.json: Expecting value: line 1 column 1 (char 0)\nmore")

    monkeypatch.setattr(synth_flow, "synth_generic", broken)
    rc = main([*sum((["--set", o] for o in SMALL), []), "--no-sweep", "--out", str(tmp_path)])
    assert rc == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m flows.ppa: failed: generic synthesis of the head raised ValueError: "
        "netlist.json: Expecting value: line 1 column 1 (char 0)")
