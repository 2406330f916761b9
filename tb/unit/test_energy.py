"""flows.ppa.energy: the paper preset reproduces P's figures; the model scales as it says."""

from __future__ import annotations

import dataclasses

import pytest

from flows.ppa import energy as E
from hdl.config import HeadConfig, load_config
from hdl.schedule import Schedule


def test_paper_preset_reproduces_the_papers_analog_energy():
    e = E.analog_energy(HeadConfig())
    assert e["qk"] == pytest.approx(1120, rel=0.01)
    assert e["av"] == pytest.approx(700, rel=0.01)
    assert e["dac"] == pytest.approx(330, rel=0.01)
    assert e["total"] == pytest.approx(2150, rel=0.01)


def test_paper_figures_reproduce_the_papers_ratios():
    rows = {r["name"]: r for r in E.comparison(HeadConfig(), 6150.0, 65.0, heads=12)}
    assert rows["RTX 4090"]["speedup"] == pytest.approx(344, rel=0.01)
    assert rows["RTX 4090"]["energy_ratio"] == pytest.approx(97266, rel=0.01)
    assert rows["Jetson Nano"]["speedup"] == pytest.approx(7521, rel=0.01)
    assert rows["Jetson Nano"]["energy_ratio"] == pytest.approx(43981, rel=0.01)


def test_hbm_floor():
    h = E.hbm_floor(HeadConfig(), heads=12)
    assert h["FP16"]["values"] == 1_572_864           # "1.57 M values per token-layer"
    assert h["FP16"]["energy_J"] == pytest.approx(1_572_864 * 16 * 3.4e-12)
    assert h["INT8"]["energy_J"] == pytest.approx(h["FP16"]["energy_J"] / 2)
    assert h["3-bit"]["energy_J"] == pytest.approx(h["FP16"]["energy_J"] * 3 / 16)


def test_window_scaling():
    base = E.analog_energy(HeadConfig())
    big = E.analog_energy(load_config(None, ["array.n_tiles=32"]))   # W = 2048
    for k in ("qk_array", "qk_c2p", "av_array", "av_c2p"):
        assert big[k] == pytest.approx(2 * base[k])
    assert big["dac"] == pytest.approx(base["dac"])                 # one column per token


def test_head_dim_scaling():
    base = E.analog_energy(HeadConfig())
    half = E.analog_energy(load_config(None, ["array.head_dim=32"]))
    for k in ("qk_array", "av_array", "av_c2p", "dac"):
        assert half[k] == pytest.approx(base[k] / 2)
    assert half["qk_c2p"] == pytest.approx(base["qk_c2p"])          # one C2P per column


def test_activity_scaling():
    cfg = HeadConfig()
    p = E.analog_preset("paper")
    base = E.analog_energy(cfg)
    busy = E.analog_energy(cfg, q_duty=2 * float(p.ref_q_duty), a_duty=0.0)
    assert busy["qk_array"] == pytest.approx(2 * base["qk_array"])
    assert busy["qk_c2p"] == pytest.approx(base["qk_c2p"])
    assert busy["av_array"] == 0.0 and busy["av_c2p"] == pytest.approx(base["av_c2p"])
    half = E.analog_energy(cfg, valid_columns=cfg.array.window // 2)
    assert half["qk"] == pytest.approx(base["qk"] / 2)


def test_digital_energy_is_the_stated_formula():
    t = E.tech_preset("sky130")
    act = {"toggles_by_fanout": {"1": 100.0, "3": 10.0}, "ff_clock_events": 50.0,
           "ff_data_toggles": 5.0}
    v, c, cw = 1.8, 2.315, 0.2 * 7.75
    want_nets = (100 * 0.5 * v * v * (c * (1 + 1) + cw * 1)
                 + 10 * 0.5 * v * v * (c * (3 + 1) + cw * 3)) / 1000
    want_clk = 50 * v * v * (c * 4 + cw) / 1000
    want_ffd = 5 * 0.5 * v * v * c * 4 / 1000
    e = E.digital_energy(act, t)
    assert e["nets"] == pytest.approx(want_nets)
    assert e["ff_clock"] == pytest.approx(want_clk)
    assert e["ff_data"] == pytest.approx(want_ffd)
    assert e["total"] == pytest.approx(want_nets + want_clk + want_ffd)
    double = E.digital_energy({**act, "ff_clock_events": 100.0}, t)
    assert double["ff_clock"] == pytest.approx(2 * e["ff_clock"])
    # no clock gates: no clock-gate energy
    assert e["icg"] == 0.0


def test_clock_gate_energy_is_the_stated_formula():
    """Each clock gate: V²·(3 C_in + C_wire) per cycle — a latch's 2 clock-driven gates + the
    AND2's clock input + its clock-wire share; added to the total."""
    t = E.tech_preset("sky130")
    act = {"toggles_by_fanout": {}, "ff_clock_events": 0.0, "ff_data_toggles": 0.0,
           "icg_clock_events": 31.0}
    v, c, cw = 1.8, 2.315, 0.2 * 7.75
    want = 31 * v * v * (3 * c + cw) / 1000
    e = E.digital_energy(act, t)
    assert e["icg"] == pytest.approx(want) and e["total"] == pytest.approx(want)
    assert t.params()["icg_clock_loads"]["source"].startswith("Weste & Harris")


def test_lower_voltage_node_costs_less_per_toggle():
    assert E.tech_preset("n28").e_toggle_fJ(2) < E.tech_preset("nangate45").e_toggle_fJ(2) \
        < E.tech_preset("sky130").e_toggle_fJ(2)


def test_every_parameter_has_a_source():
    for preset in [*E.TECH_BY_NAME.values(), *E.ANALOG_BY_NAME.values()]:
        for name, p in preset.params().items():
            assert p["source"].strip(), f"{preset.name}.{name} has no source"
            assert p["unit"].strip(), f"{preset.name}.{name} has no unit"


def test_latency_comes_from_the_schedule():
    for sets in ([], ["timing.adder_pipeline_every=1"], ["timing.t_clk_ns=2.5"]):
        cfg = load_config(None, sets)
        s = Schedule(cfg)
        lat = E.latency(cfg)
        assert lat["latency_ns"] == pytest.approx(s.latency * cfg.timing.t_clk_ns)
        assert lat["throughput_tokens_per_s"] == pytest.approx(
            1e9 / (s.initiation_interval * cfg.timing.t_clk_ns))


def test_area_counts():
    cfg = HeadConfig()
    t = E.tech_preset("n28")
    a = E.area(cfg, 1000.0, t)
    assert a["n_cells"] == 2 * 1024 * 64
    assert a["n_c2p"] == 1024 + 16 * 64 and a["n_dacs"] == 16 * 64
    assert a["digital"] == pytest.approx(1000 * t.area_per_transistor_um2)
    assert a["total"] == pytest.approx(a["digital"] + a["arrays"] + a["c2p"] + a["dacs"])


def test_digital_scale_factor():
    ref = HeadConfig()
    blocks = {"pwm_bank": 10.0, "counter_bank": 50.0, "write_address": 40.0}
    assert E.digital_scale_factor(ref, ref, blocks) == pytest.approx(1.0)
    dbl = E.scale_config(ref, head_dim=128)
    assert E.digital_scale_factor(ref, dbl, blocks) == pytest.approx((20 + 100 + 40) / 100)
    with pytest.raises(ValueError, match="not a multiple"):
        E.scale_config(ref, window=100)


def test_digital_scale_factor_rejects_what_it_cannot_scale():
    ref = HeadConfig()
    with pytest.raises(ValueError, match="unknown block 'nope'"):
        E.digital_scale_factor(ref, ref, {"nope": 1.0})
    with pytest.raises(ValueError, match="scales with 'head'"):
        E.digital_scale_factor(ref, ref, {"attention_head": 1.0})


def test_tech_config_selects_presets_and_validates():
    cfg = load_config(None, ["tech.preset=sky130"])
    assert cfg.tech.preset == "sky130" and HeadConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="tech.preset must be one of n28, nangate45, sky130"):
        load_config(None, ["tech.preset=3nm"])
    with pytest.raises(ValueError, match="tech.analog_preset"):
        dataclasses.replace(cfg.tech, analog_preset="spice")
