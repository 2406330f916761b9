"""The configuration object: defaults from the paper, derived widths, JSON round trip, and a
clear error for every kind of bad value."""

import argparse
import json

import pytest

from hdl.cli import add_config_args, config_from_args
from hdl.config import (
    AnalogConfig,
    ArrayConfig,
    HeadConfig,
    TimingConfig,
    load_config,
)
from hdl.schedule import Schedule


def test_defaults_are_the_papers_head():
    c = HeadConfig()
    assert (c.array.head_dim, c.array.tile_cols, c.array.n_tiles) == (64, 64, 16)
    assert c.array.window == 1024
    assert c.array.q_max == 15 and c.array.kv_max == 7 and c.array.count_max == 15
    assert c.timing.t_clk_ns == 1.0 and c.timing.layers == 12
    assert (c.analog.s_sat1_uA, c.analog.s_sat2_uA) == (80.0, 40.0)
    assert c.analog.tau_retention_s == 5e-3
    # model-spec §1.2: g(±0.45) and g(0) from the collapsed cubic
    g = lambda y: sum(ci * y**i for i, ci in enumerate(c.analog.cell_poly_uA))  # noqa: E731
    assert g(0.0) == pytest.approx(0.5214, abs=1e-4)
    assert g(0.45) == pytest.approx(10.3130, abs=1e-3)
    assert g(-0.45) == pytest.approx(-10.3315, abs=1e-3)


@pytest.mark.parametrize("n_tiles,count_bits,expect", [(16, 4, 9), (1, 4, 5), (3, 4, 7), (16, 5, 10),
                                                       (17, 4, 9)])
def test_sum_width_holds_extremes(n_tiles, count_bits, expect):
    a = ArrayConfig(n_tiles=n_tiles, count_bits=count_bits)
    lo, hi = -(1 << (a.sum_width - 1)), (1 << (a.sum_width - 1)) - 1
    extreme = n_tiles * ((1 << count_bits) - 1)
    assert lo <= -extreme and extreme <= hi
    # one bit fewer would not hold the extreme
    assert extreme > (1 << (a.sum_width - 2)) - 1
    assert a.sum_width == expect


def test_address_widths():
    a = ArrayConfig(n_tiles=3, tile_cols=4, head_dim=8)
    assert (a.window, a.tile_bits, a.col_bits, a.row_bits, a.ptr_bits) == (12, 2, 2, 3, 4)
    a = ArrayConfig(n_tiles=1, tile_cols=1, head_dim=1)
    assert (a.tile_bits, a.col_bits, a.ptr_bits) == (1, 1, 1)


def test_schedule_at_defaults_meets_paper_targets():
    s = Schedule(HeadConfig())
    assert s.latency <= 65
    assert s.initiation_interval <= 48
    # phases follow each other as DESIGN.md §4 describes
    assert s.k_write[0] == s.k_discharge[1] and s.qk_read[0] == s.k_write[1]
    assert s.qk_read[1] - s.qk_read[0] == 15
    assert s.a_fire[0] >= max(s.qk_read[1], s.v_write[1])
    assert s.count[0] == s.a_fire[1] and s.counts_final == s.count[1]
    assert s.token_step_s == pytest.approx(12 * s.latency * 1e-9)


def test_default_latency_and_ii_are_pinned():
    """The head's speed at defaults, pinned: a schedule or pipeline change that makes the head
    slower (or silently faster) must change this test.  54 cycles from accept to output
    (paper: 65 ns), one token every 31 cycles (the C2P circuits: integrate 15 + fire 15 +
    reset 1).  The co-simulation measures both on the Verilog."""
    from hdl.head import AttentionHead

    cfg = HeadConfig()
    s = Schedule(cfg)
    assert (s.latency, s.initiation_interval) == (54, 31)
    head = AttentionHead(cfg)
    head._MustUse__silence = True  # built for its properties only, never elaborated
    assert (head.latency, head.initiation_interval) == (54, 31)


@pytest.mark.parametrize(("overrides", "latency", "ii"), [
    # clock gating changes no cycle: the paper's ungated periphery has the same figures
    (["timing.clock_gating=false"], 54, 31),
    # pulse sums: counts_final 48 + 1 partial-sum register instead of 4 adder-tree registers
    (["timing.readout=pulse_sum"], 51, 31),
    (["timing.readout=pulse_sum", "timing.clock_gating=false"], 51, 31),
    (["timing.readout=pulse_sum", "timing.pulse_tree_register=true"], 52, 31),
    # ping-pong: two C2P sets per column (31 busy cycles every other token, ceil(31/2) = 16),
    # V written in [15, 18): the K and V arrays, 18 cycles each, bound the interval
    (["timing.schedule=pingpong"], 54, 18),
    (["timing.schedule=pingpong", "timing.clock_gating=false"], 54, 18),
    (["timing.schedule=pingpong", "timing.readout=pulse_sum"], 51, 18),
])
def test_variant_latency_and_ii_are_pinned(overrides, latency, ii):
    from hdl.head import AttentionHead

    cfg = HeadConfig().with_overrides(overrides)
    s = Schedule(cfg)
    assert (s.latency, s.initiation_interval) == (latency, ii)
    head = AttentionHead(cfg)
    head._MustUse__silence = True
    assert (head.latency, head.initiation_interval) == (latency, ii)


def test_pingpong_schedule_phases_and_resources():
    """Issue 11 §3 at defaults: II ≤ 20 with the latency unchanged; the V column is written in
    the last cycles of the QK read, ending where the A fire starts; the C2P sets are busy 31
    cycles, so each set must be free two tokens (36 cycles) later."""
    paper = Schedule(HeadConfig())
    s = Schedule(HeadConfig().with_overrides(["timing.schedule=pingpong"]))
    assert paper.c2p_sets == 1 and s.c2p_sets == 2
    assert s.initiation_interval <= 20 and s.latency <= paper.latency
    assert (s.v_discharge, s.v_write, s.a_fire) == ((15, 16), (16, 18), (18, 33))
    assert (s.k_discharge, s.k_write, s.qk_read, s.count) == (
        paper.k_discharge, paper.k_write, paper.qk_read, paper.count)
    assert s.resources()["v_array"] == (15, 33) and s.resources()["k_array"] == (0, 18)
    assert s.copies() == {"k_array": 1, "relu_c2p": 2, "v_array": 1, "signed_c2p": 2,
                          "counters": 1}
    ii = s.initiation_interval
    for name, (lo, hi) in s.resources().items():
        assert s.copies()[name] * ii >= hi - lo, name
    # the next token's counter clear (cycle count[0] − 1 + II) comes after the read-out
    # sampled the final counts (counts_final)
    assert s.count[0] - 1 + ii >= s.counts_final


@pytest.mark.parametrize("overrides", [
    ["array.q_bits=2"],                       # a QK read (3 cycles) shorter than the V write
    ["timing.discharge_cycles=3", "timing.dac_write_cycles=4"],
])
def test_pingpong_schedule_on_short_reads_still_follows_the_resources(overrides):
    s = Schedule(HeadConfig().with_overrides(overrides + ["timing.schedule=pingpong"]))
    assert s.v_discharge[0] >= s.qk_read[0] and s.a_fire[0] >= s.v_write[1]
    assert s.initiation_interval == max(-(-(hi - lo) // s.copies()[n])
                                        for n, (lo, hi) in s.resources().items())


def test_clock_gating_is_the_default_and_readout_the_papers():
    t = HeadConfig().timing
    assert t.clock_gating is True and t.readout == "tile_counters" and t.schedule == "paper"


def test_schedule_ii_is_the_busiest_resource():
    cfg = HeadConfig().with_overrides(["timing.c2p_reset_cycles=5", "timing.dac_write_cycles=9"])
    s = Schedule(cfg)
    lengths = {k: e - b for k, (b, e) in s.resources().items()}
    assert s.initiation_interval == max(lengths.values())
    # no two consecutive tokens overlap on any resource, and one cycle less would overlap one
    for b, e in s.resources().values():
        assert b + s.initiation_interval >= e
    assert any(b + s.initiation_interval - 1 < e for b, e in s.resources().values())


def test_json_round_trip_and_hash():
    c = HeadConfig().with_overrides(["array.n_tiles=3", "analog.leakage=off",
                                     "timing.t_clk_ns=2.5", "analog.cell_poly_uA=0,19.3"])
    again = HeadConfig.from_json(c.to_json())
    assert again == c and again.hash == c.hash
    assert c.hash != HeadConfig().hash
    assert c.analog.cell_poly_uA == (0.0, 19.3)
    assert c.timing.t_clk_ns == 2.5 and c.analog.leakage is False


def test_load_config_file_and_sidecar(tmp_path):
    c = HeadConfig().with_overrides(["array.head_dim=8"])
    f = tmp_path / "c.json"
    f.write_text(c.to_json())
    assert load_config(f) == c
    side = tmp_path / "config.json"
    side.write_text(json.dumps({"config": c.to_dict(), "hash": c.hash}))
    assert load_config(side, ["array.n_tiles=2"]) == c.with_overrides(["array.n_tiles=2"])


def test_ideal_switches():
    a = AnalogConfig().ideal("leakage", "offset")
    assert not a.leakage and not a.offset and a.nonlinearity
    with pytest.raises(ValueError, match="non-ideality must be one of quantization.*not 'noise'"):
        AnalogConfig().ideal("noise")


BAD = [
    (lambda: ArrayConfig(head_dim=0), "array.head_dim must be a power of two from 1 to 1024, not 0"),
    (lambda: ArrayConfig(head_dim=48), "array.head_dim must be a power of two from 1 to 1024, not 48"),
    (lambda: ArrayConfig(tile_cols=-4), "array.tile_cols must be a power of two from 1 to 1024, not -4"),
    (lambda: ArrayConfig(tile_cols=3), "array.tile_cols must be a power of two from 1 to 1024, not 3"),
    (lambda: ArrayConfig(n_tiles=0), "array.n_tiles must be an integer from 1 to 256, not 0"),
    (lambda: ArrayConfig(q_bits=0), "array.q_bits must be an integer from 1 to 8, not 0"),
    (lambda: ArrayConfig(kv_bits=9), "array.kv_bits must be an integer from 1 to 8, not 9"),
    (lambda: ArrayConfig(count_bits=3),
     "array.count_bits must be an integer from q_bits=4 (the counter must hold T_max = 15 cycles) "
     "to 16, not 3"),
    (lambda: ArrayConfig(head_dim=64.0), "array.head_dim must be an integer, not 64.0"),
    (lambda: ArrayConfig(n_tiles=True), "array.n_tiles must be an integer, not True"),
    (lambda: TimingConfig(t_clk_ns=0.0), "timing.t_clk_ns must be a positive period in ns up to 1e6, not 0.0"),
    (lambda: TimingConfig(t_clk_ns=float("nan")), "timing.t_clk_ns must be a finite number, not nan"),
    (lambda: TimingConfig(discharge_cycles=0), "timing.discharge_cycles must be an integer from 1 to 64, not 0"),
    (lambda: TimingConfig(dac_write_cycles=0), "timing.dac_write_cycles must be an integer from 1 to 64, not 0"),
    (lambda: TimingConfig(c2p_reset_cycles=65), "timing.c2p_reset_cycles must be an integer from 1 to 64, not 65"),
    (lambda: TimingConfig(adder_pipeline_every=-1),
     "timing.adder_pipeline_every must be an integer from 0 (combinational) to 16, not -1"),
    (lambda: TimingConfig(layers=0), "timing.layers must be an integer from 1 to 1024, not 0"),
    (lambda: TimingConfig(readout="adders"),
     "timing.readout must be one of tile_counters, pulse_sum, not 'adders'"),
    (lambda: TimingConfig(clock_gating=1), "timing.clock_gating must be true or false, not 1"),
    (lambda: HeadConfig().with_overrides(["timing.readout=pulse"]),
     "timing.readout must be one of tile_counters, pulse_sum, not 'pulse'"),
    (lambda: TimingConfig(pulse_tree_register=True),
     "timing.pulse_tree_register must be false unless timing.readout is pulse_sum, not True"),
    (lambda: TimingConfig(schedule="fast"),
     "timing.schedule must be one of paper, pingpong, not 'fast'"),
    (lambda: HeadConfig().with_overrides(["timing.schedule=ping-pong"]),
     "timing.schedule must be one of paper, pingpong, not 'ping-pong'"),
    (lambda: AnalogConfig(v_max_V=-1.0), "analog.v_max_V must be in (0, 5] V, not -1.0"),
    (lambda: AnalogConfig(v_mid_V=0.95), "analog.v_mid_V must be in (0, v_max_V=0.9), not 0.95"),
    (lambda: AnalogConfig(s_sat1_uA=0.0), "analog.s_sat1_uA must be positive, not 0.0"),
    (lambda: AnalogConfig(s_sat2_uA=-40.0), "analog.s_sat2_uA must be positive, not -40.0"),
    (lambda: AnalogConfig(tau_retention_s=0.0), "analog.tau_retention_s must be positive (seconds), not 0.0"),
    (lambda: AnalogConfig(linear_gain_uA_per_V=0.0), "analog.linear_gain_uA_per_V must be positive, not 0.0"),
    (lambda: AnalogConfig(var_gain_sigma=-0.1), "analog.var_gain_sigma must be ≥ 0, not -0.1"),
    (lambda: AnalogConfig(var_offset_sigma_uA=-1.0), "analog.var_offset_sigma_uA must be ≥ 0, not -1.0"),
    (lambda: AnalogConfig(ir_drop_alpha=1.0), "analog.ir_drop_alpha must be in [0, 1), not 1.0"),
    (lambda: AnalogConfig(seed=-1), "analog.seed must be an integer from 0 to 2**63−1, not -1"),
    (lambda: AnalogConfig(cell_poly_uA=()), "analog.cell_poly_uA must be a list of 1 to 8 polynomial coefficients, not ()"),
    (lambda: AnalogConfig(leakage="yes"), "analog.leakage must be true or false, not 'yes'"),
    (lambda: HeadConfig(array={"head_dim": 8}), "array must be a ArrayConfig, not {'head_dim': 8}"),
    (lambda: HeadConfig.from_dict({"array": {"head_dim": 8, "rows": 3}}),
     "array: unknown key(s) 'rows'; known: count_bits, head_dim, kv_bits, n_tiles, q_bits, tile_cols"),
    (lambda: HeadConfig.from_dict({"arrays": {}}), "config: unknown key(s) 'arrays'; known: analog, array, tech, timing"),
    (lambda: HeadConfig.from_dict([1, 2]), "config must be a JSON object, not list"),
    (lambda: HeadConfig.from_dict({"array": 5}), "array must be a JSON object, not int"),
    (lambda: HeadConfig.from_dict({"array": {"n_tiles": "16"}}), "array.n_tiles must be an integer, not '16'"),
    (lambda: HeadConfig.from_dict({"analog": {"cell_poly_uA": 1.0}}),
     "analog.cell_poly_uA must be a list of finite numbers, not 1.0"),
    (lambda: HeadConfig.from_json("{nope", "x.json"), "x.json: not valid JSON"),
    (lambda: HeadConfig().with_overrides(["array.n_tiles"]), "--set expects section.field=value, not 'array.n_tiles'"),
    (lambda: HeadConfig().with_overrides(["n_tiles=3"]), "--set 'n_tiles': unknown setting"),
    (lambda: HeadConfig().with_overrides(["array.rows=3"]), "--set 'array.rows': unknown field 'rows' in array"),
    (lambda: HeadConfig().with_overrides(["array.n_tiles=two"]), "--set array.n_tiles: 'two' is not a valid int"),
    (lambda: HeadConfig().with_overrides(["analog.leakage=maybe"]), "--set analog.leakage: 'maybe' is not a valid bool"),
    (lambda: HeadConfig().with_overrides(["timing.t_clk_ns=fast"]), "--set timing.t_clk_ns: 'fast' is not a valid float"),
    (lambda: HeadConfig().with_overrides(["array.n_tiles=300"]), "array.n_tiles must be an integer from 1 to 256, not 300"),
]


@pytest.mark.parametrize("make,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_values_name_field_value_and_range(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert message in str(e.value)


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read config file '.*missing.json'"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\"array\": ")
    with pytest.raises(ValueError, match="config file '.*bad.json' is not valid JSON"):
        load_config(bad)


def test_cli_helpers_exit_with_message(capsys, tmp_path):
    parser = argparse.ArgumentParser(prog="x")
    add_config_args(parser)
    args = parser.parse_args(["--set", "array.head_dim=8", "--set", "array.n_tiles=2"])
    cfg = config_from_args(parser, args)
    assert cfg.array.head_dim == 8 and cfg.array.n_tiles == 2
    args = parser.parse_args(["--set", "array.head_dim=6"])
    with pytest.raises(SystemExit) as e:
        config_from_args(parser, args)
    assert e.value.code == 2
    assert "array.head_dim must be a power of two from 1 to 1024, not 6" in capsys.readouterr().err
