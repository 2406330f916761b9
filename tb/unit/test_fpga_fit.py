"""The fit check and the fit search of the board builds, on a cheap model of the device use
(no synthesis, no place and route), and the twin's lanes each board derives."""

from __future__ import annotations

import dataclasses

import pytest

from flows.fpga import build as B
from flows.fpga.boards import BOARDS, Resource
from flows.fpga.fit import DoesNotFit, candidates, estimate, fit_search, verdict
from hdl.config import HeadConfig
from hdl.schedule import Schedule

RES = (Resource("LUT4", (("LUT4", 1), ("CCU2C", 2)), 1000, 0.8),
       Resource("EBR", (("DP16KD", 1),), 10))


def test_estimate_weighs_cells_by_prefix():
    use = estimate(RES, {"LUT4": 300, "CCU2C": 100, "DP16KD": 4, "TRELLIS_FF": 9})
    assert use == {"LUT4": {"used": 500, "available": 1000, "limit": 0.8},
                   "EBR": {"used": 4, "available": 10, "limit": 1.0}}
    assert verdict(use) == []
    assert verdict(estimate(RES, {"LUT4": 801, "DP16KD": 11})) == \
        ["LUT4 801 > 80% of 1,000", "EBR 11 > 100% of 10"]


def test_candidates_largest_first_down_to_prototype_scale():
    c = candidates(HeadConfig())
    size = [(x.array.window * x.array.head_dim, x.array.head_dim) for x in c]
    assert c[0] == HeadConfig() and size == sorted(size, reverse=True)
    shapes = [(x.array.head_dim, x.array.tile_cols, x.array.n_tiles) for x in c]
    assert sorted(shapes) == sorted((d, cols, n) for d in (64, 32, 16, 8, 4)
                                    for cols in (64, 32, 16, 8) for n in (16, 8, 4, 2))


def _model(limit_cells: int):
    """A device model: LUT use grows with the array's cells W·d (plus a fixed link)."""
    def use_of(cfg):
        a = cfg.array
        return estimate(RES, {"LUT4": 200 + a.window * a.head_dim * 1000 // limit_cells})
    return use_of


def test_fit_search_returns_the_largest_that_fits():
    calls = []
    model = _model(65536 // 4)          # the model fits up to W·d = 65536 / 8 (0.8 × 1000)

    def use_of(cfg):
        calls.append(cfg.hash)
        return model(cfg)

    cfg, tried = fit_search(candidates(HeadConfig()), use_of)
    a = cfg.array
    cells = a.window * a.head_dim
    assert 200 + cells * 1000 // (65536 // 4) <= 800           # it fits the model …
    bigger = [x for x in candidates(HeadConfig())
              if x.array.window * x.array.head_dim > cells]
    assert bigger and all(verdict(model(x)) for x in bigger)   # … and nothing larger does
    assert [h for h, _ in tried] == calls and tried[-1] == (cfg.hash, [])
    assert all(over for _, over in tried[:-1])


def test_fit_search_reports_when_nothing_fits():
    with pytest.raises(DoesNotFit, match=r"no config fits: .*LUT4 [\d,]+ > 80% of 1,000"):
        fit_search(candidates(HeadConfig().with_overrides(["array.head_dim=8",
                                                            "array.n_tiles=2",
                                                            "array.tile_cols=8"])),
                   _model(1))


def test_build_refuses_a_config_that_does_not_fit_before_place_and_route(tmp_path,
                                                                         monkeypatch):
    """The synthesised cells exceed the UP5K: refused naming the resource, P&R never run."""
    ran = []
    monkeypatch.setattr(B, "CACHE", tmp_path)
    monkeypatch.setattr(B, "_steps", lambda board, cfg, lanes, d: ["yosys", "nextpnr"])
    monkeypatch.setattr(B, "_run", lambda board, step, d: ran.append(step) or 1.0)
    monkeypatch.setattr(B, "_cells", lambda d: {"SB_LUT4": 5000, "SB_DFFE": 1000,
                                                "SB_RAM40_4K": 4})
    cfg = B.board_config("icebreaker")
    with pytest.raises(DoesNotFit, match=r"d = 8, 4 tiles × 16 columns does not fit the "
                                         r"icebreaker: LC 5,800 > 100% of 5,280"):
        B.build_board("icebreaker", cfg)
    assert ran == ["yosys"]
    assert B.synth_use("icebreaker", cfg)["RAM"]["used"] == 4     # cached synthesis


def test_lanes_derived_from_the_link(monkeypatch):
    """The fewest lanes with which the head keeps up with the board's serial link, unless the
    board fixes them (the ULX3S: 8, the most with which the default head routes)."""
    assert B.board_lanes("ulx3s-85f", HeadConfig()) == BOARDS["ulx3s-85f"].lanes == 8
    monkeypatch.setitem(BOARDS, "ulx3s-85f", dataclasses.replace(BOARDS["ulx3s-85f"],
                                                                 lanes=None))
    for board, want in (("icebreaker", 1), ("ulx3s-85f", 16)):
        spec = BOARDS[board]
        cfg = B.board_config(board)
        lanes = B.board_lanes(board, cfg)
        assert lanes == want
        clk = spec.platform().default_clk_frequency
        ii = Schedule(cfg).initiation_interval
        link = spec.baud / 10 / max(B.P.token_bytes(cfg) + 6, B.P.output_bytes(cfg) + 12)
        assert clk / (B.min_time_scale(cfg, lanes) * ii) >= link
        if lanes > 1:
            assert clk / (B.min_time_scale(cfg, lanes // 2) * ii) < link
    assert B.board_lanes("ulx3s-85f", HeadConfig(), 4) == 4
