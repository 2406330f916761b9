"""What a sweep measures at each point: accuracy, synthesis, PPA — each a call of the flow
that already computes it, flattened into the columns of the results table.

* ``accuracy`` — :func:`sim.evaluate.error_table` of the point's config as given (the golden
  model against ideal ReLU attention, :func:`sim.ideal.relu_attention`, on seeded token streams
  of :func:`sim.stimuli.random_tokens`): ``rel_error``, mean / max |error| in counter LSBs,
  correlation.  Options: ``tokens``, ``batch``.
* ``synthesis`` — :func:`flows.synth.run_synth` of the head: generic ``cells``, ``gates``,
  ``ff``, ``transistors``, register-to-register ``depth``; with option ``fpga`` (a target of
  :data:`flows.synth.TARGETS`) its LUTs, flip-flops, status and routed ``fmax_mhz``.
* ``ppa`` — :func:`flows.ppa.run_ppa` of the point: digital energy from a real synthesis and a
  gate-level switching-activity run of that point's head (not structural scaling), analog
  energy, latency, initiation interval, area.  Option: ``tokens`` (of the activity run).

Each measure names the sources its result depends on (:attr:`Measure.sources`) and whether the
tool versions matter (:attr:`Measure.uses_tools`): both go into the cache key of a point
(:mod:`flows.sweep.store`).  A head co-simulation per point is not offered: it lives in ``tb``,
which ``flows`` must not import (``tb/unit/test_layout.py``); the PPA activity run already
simulates the synthesised netlist of every point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hdl.config import HeadConfig

from ..ppa.activity import min_tokens

__all__ = ["Measure", "Option", "MEASURES", "check_options", "run_measure"]


@dataclass(frozen=True)
class Option:
    """One option of a measure: its default, a check and what the check allows."""

    default: Any
    check: Callable[[Any], bool]
    allowed: str
    doc: str


@dataclass(frozen=True)
class Measure:
    name: str
    run: Callable[[HeadConfig, int, dict[str, Any]], dict[str, Any]]
    options: dict[str, Option]
    uses_seed: bool
    uses_tools: bool
    sources: tuple[str, ...]
    doc: str


def _int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda x: isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi


# -- accuracy -------------------------------------------------------------------------------------
def _accuracy(cfg: HeadConfig, seed: int, opt: dict[str, Any]) -> dict[str, Any]:
    from sim.evaluate import error_table

    row = error_table(cfg, tokens=opt["tokens"], batch=opt["batch"], seed=seed,
                      variants=[("config", cfg)])[0]
    return {k: row[k] for k in ("rel_error", "mean_abs_error_lsb", "max_abs_error_lsb",
                                "correlation")}


# -- synthesis ------------------------------------------------------------------------------------
def _fpga_targets() -> list[str]:
    from flows.synth import TARGETS
    return [t for t in TARGETS if t != "generic"]


def _synthesis(cfg: HeadConfig, seed: int, opt: dict[str, Any]) -> dict[str, Any]:
    from flows.synth import SynthError, run_synth
    from hdl.registry import HEAD_BLOCK

    targets = ["generic"] + ([opt["fpga"]] if opt["fpga"] else [])
    rep = run_synth(cfg, [HEAD_BLOCK], targets, timeout_s=opt["fpga_timeout_s"])
    res = rep["blocks"][HEAD_BLOCK]["targets"]
    g = res["generic"]
    if g.get("status") != "ok":
        raise SynthError(f"generic synthesis of the head: {g.get('reason')}")
    out: dict[str, Any] = {"cells": g["n_cells"], "gates": g["n_gates"], "ff": g["n_ff"],
                           "transistors": g["transistors"]["total"],
                           "depth": g["depth"]["reg_to_reg"]}
    if opt["fpga"]:
        f = res[opt["fpga"]]
        if f.get("status") == "error":  # "does not fit" and "timeout" are results, not errors
            raise SynthError(f"{opt['fpga']} synthesis of the head: {f.get('reason')}")
        ok = f.get("status") == "ok"
        out.update({"fpga_status": f.get("status"), "fpga_lut": f.get("lut"),
                    "fpga_ff": f.get("ff"), "fpga_fmax_mhz": f.get("fmax_mhz") if ok else None})
    return out


# -- ppa ------------------------------------------------------------------------------------------
def _ppa(cfg: HeadConfig, seed: int, opt: dict[str, Any]) -> dict[str, Any]:
    from flows.ppa import run_ppa

    r = run_ppa(cfg, n_tokens=opt["tokens"], seed=seed, heads=1, sweep=False)
    e, lat, ar = r["energy_pJ"], r["latency"], r["area_um2"]
    return {"energy_pJ": e["head_total"], "analog_pJ": e["analog_data"]["total"],
            "digital_pJ": e["digital_selected"], "latency_ns": lat["latency_ns"],
            "ii_ns": lat["ii_ns"], "tokens_per_s": lat["throughput_tokens_per_s"],
            "area_um2": ar["total"], "digital_area_um2": ar["digital"],
            "analog_area_um2": ar["analog"]}


_SIM = ("hdl/config.py", "hdl/registry.py", "analog_models", "sim")
_RTL = ("hdl", "flows/synth", "flows/netlist.py", "flows/tools.py")
_THIS = ("flows/sweep/measures.py",)

#: The measures a spec can ask for, by name (the order of the table's columns).
MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("accuracy", _accuracy, {
        "tokens": Option(256, _int_in(1, 1 << 20), "an integer from 1 to 1048576",
                         "tokens per sequence"),
        "batch": Option(1, _int_in(1, 64), "an integer from 1 to 64", "sequences"),
    }, uses_seed=True, uses_tools=False, sources=_SIM + _THIS,
        doc="golden model vs ideal ReLU attention (sim.evaluate)"),
    Measure("synthesis", _synthesis, {
        "fpga": Option("", lambda x: x == "" or x in _fpga_targets(),
                       "\"\" (none) or an FPGA target of flows.synth", "FPGA target for Fmax"),
        "fpga_timeout_s": Option(600.0, lambda x: isinstance(x, (int, float)) and not
                                 isinstance(x, bool) and 0 < x <= 86400,
                                 "a number of seconds in (0, 86400]",
                                 "place-and-route time limit"),
    }, uses_seed=False, uses_tools=True, sources=_RTL + _THIS,
        doc="generic cells, transistors, logic depth; optional FPGA Fmax (flows.synth)"),
    Measure("ppa", _ppa, {
        "tokens": Option(12, _int_in(min_tokens(), 4096),
                         f"an integer from {min_tokens()} to 4096",
                         "tokens of the gate-level activity run"),
    }, uses_seed=True, uses_tools=True, sources=_SIM + _RTL + ("flows/ppa",) + _THIS,
        doc="energy / latency / area from synthesis + gate-level activity (flows.ppa)"),
)}


def check_options(measure: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options of ``measure``: ``given`` over the defaults; ``ValueError`` on a bad one."""
    m = MEASURES[measure]
    unknown = sorted(set(given) - set(m.options))
    if unknown:
        raise ValueError(f"[{measure}]: unknown option {unknown[0]!r}; known: "
                         f"{', '.join(m.options) or 'none'}")
    out = {}
    for name, o in m.options.items():
        value = given.get(name, o.default)
        if not o.check(value):
            raise ValueError(f"[{measure}] {name} must be {o.allowed}, not {value!r}")
        out[name] = float(value) if isinstance(o.default, float) else value
    return out


def run_measure(name: str, cfg: HeadConfig, seed: int, options: dict[str, Any]
                ) -> dict[str, Any]:
    """Run one measure of one point: its columns (without the measure's prefix)."""
    return MEASURES[name].run(cfg, seed, options)
