"""The architecture variants of issue 11 side by side: the paper's periphery, + clock gating,
+ the pulse-sum read-out, + the ping-pong schedule (two C2P sets per column, II 18).

Each variant is the base configuration with a few ``timing`` fields set; its figures come from
the ordinary PPA flow (:func:`flows.ppa.flow.run_ppa`, synthesis and activity cached by input
hash), so the table holds nothing the single-variant report would not.  ``variants_markdown``
also says which of the paper's figures (digital 4 nJ, total 6.15 nJ per token-head, latency
65 ns) each variant beats and by how much.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hdl.config import HeadConfig

from .flow import run_ppa

__all__ = ["VARIANTS", "MISSING", "run_variants", "variant_row", "variants_markdown",
           "write_variants"]

log = logging.getLogger(__name__)

#: name → (overrides on the base config, what it is).  The base config's own values of these
#: fields are replaced, so the table is the same whatever the base sets.
VARIANTS: dict[str, tuple[list[str], str]] = {
    "paper default": (["timing.clock_gating=false", "timing.readout=tile_counters",
                       "timing.schedule=paper"],
                      "the paper's periphery: n·d counters + d adder trees, no clock gating"),
    "+ clock gating": (["timing.clock_gating=true", "timing.readout=tile_counters",
                        "timing.schedule=paper"],
                       "enables on counters, adder-tree, address, FIFO registers; operand "
                       "isolation of the trees (the default)"),
    "+ pulse_sum": (["timing.clock_gating=true", "timing.readout=pulse_sum",
                     "timing.schedule=paper"],
                    "clock gating + per-dimension pulse accumulators instead of counters and "
                    "adder trees"),
    "+ ping-pong": (["timing.clock_gating=true", "timing.readout=tile_counters",
                     "timing.schedule=pingpong"],
                    "clock gating + two ReLU and two signed C2Ps per column used in turn, the V "
                    "column written right before the A fire: II 18 instead of 31"),
}

#: Variants of the issue not built, with the reason (a row of the table says so).
MISSING: dict[str, str] = {}


def variant_row(name: str, r: dict[str, Any]) -> dict[str, Any]:
    """The figures of one variant from its PPA report dict."""
    e = r["energy_pJ"]
    syn = r["synthesis"]["head"]
    d = e["digital"][r["tech_preset"]]
    act = r["activity"]
    return {
        "variant": name, "config_hash": r["config_hash"],
        "digital_pJ": e["digital_selected"], "total_pJ": e["head_total"],
        "digital_breakdown_pJ": {k: d.get(k, 0.0) for k in ("ff_clock", "ff_data", "nets",
                                                             "icg")},
        "latency_cycles": r["latency"]["latency_cycles"],
        "latency_ns": r["latency"]["latency_ns"],
        "ii_cycles": r["latency"]["initiation_interval_cycles"],
        "depth_reg_to_reg": syn["depth"]["reg_to_reg"],
        "transistors": syn["transistors"]["total"], "n_ff": syn["n_ff"],
        "n_icg": syn["transistors"].get("n_icg", 0),
        "area_um2": r["area_um2"]["total"], "digital_area_um2": r["area_um2"]["digital"],
        "output_mismatches": act["output_mismatches"], "simulator": act["simulator"],
        "paper": {"digital_pJ": e["digital_paper"], "total_pJ": e["paper_total"],
                  "latency_ns": r["latency"]["paper_ns"]},
    }


def run_variants(base: HeadConfig, *, n_tokens: int = 24, seed: int = 0,
                 simulator: str = "auto") -> list[dict]:
    """Run the PPA flow (no sweep) for every built variant of ``base``; one row each."""
    rows = []
    for name, (overrides, _) in VARIANTS.items():
        cfg = base.with_overrides(overrides)
        log.info("variant %s: config %s", name, cfg.hash)
        rows.append(variant_row(name, run_ppa(cfg, n_tokens=n_tokens, seed=seed,
                                              sweep=False, simulator=simulator)))
    return rows


def _beats(ours: float, paper: float, unit: str) -> str:
    if ours < paper:
        return f"beats {paper:,.0f} {unit} by {paper / ours:.1f}× ({paper - ours:,.0f} {unit} less)"
    return f"does not beat {paper:,.0f} {unit} ({ours / paper:.2f}×)"


def variants_markdown(rows: list[dict], tech: str) -> str:
    lines = [
        "## Architecture variants (issue 11)",
        "",
        f"Energy per token per head, technology preset `{tech}`; digital energy from switching "
        "activity of each variant's synthesised netlist (gate-level simulation on "
        f"{', '.join(sorted({v.get('simulator', '?') for v in rows}))}), total = analog "
        "(simulated data) + digital.  Depth = longest register-to-register path in generic "
        "gate levels.",
        "",
        "| variant | digital | total | latency | II | depth | transistors | FFs | clock gates "
        "| area | mismatches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in rows:
        lines.append(
            f"| {v['variant']} | {v['digital_pJ']:,.1f} pJ | {v['total_pJ']:,.1f} pJ | "
            f"{v['latency_cycles']} cyc = {v['latency_ns']:.0f} ns | {v['ii_cycles']} | "
            f"{v['depth_reg_to_reg']} | {v['transistors']:,} | {v['n_ff']:,} | {v['n_icg']:,} | "
            f"{v['area_um2'] / 1e6:.4f} mm² | {v['output_mismatches']} |")
    for name, why in MISSING.items():
        lines.append(f"| {name} | — | — | — | — | — | — | — | — | — | {why} |")
    lines += ["", "Digital energy by part (pJ per token-head):", "",
              "| variant | FF clock | clock gates | nets | FF data |", "|---|---:|---:|---:|---:|"]
    for v in rows:
        b = v["digital_breakdown_pJ"]
        lines.append(f"| {v['variant']} | {b['ff_clock']:,.1f} | {b['icg']:,.1f} | "
                     f"{b['nets']:,.1f} | {b['ff_data']:,.1f} |")
    lines += ["", "Against the paper's figures (P: digital 4 nJ estimate, total 6.15 nJ, "
              "latency 65 ns):", ""]
    for v in rows:
        p = v["paper"]
        lines.append(f"- **{v['variant']}**: digital {_beats(v['digital_pJ'], p['digital_pJ'], 'pJ')}; "
                     f"total {_beats(v['total_pJ'], p['total_pJ'], 'pJ')}; "
                     f"latency {_beats(v['latency_ns'], p['latency_ns'], 'ns')}.")
    return "\n".join(lines) + "\n"


def write_variants(rows: list[dict], out: Path, tech: str) -> list[Path]:
    """``variants.json`` and ``variants.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "variants.json").write_text(json.dumps(
        {"schema": "gca-ppa-variants/1", "variants": rows, "missing": MISSING}, indent=1))
    (out / "variants.md").write_text(variants_markdown(rows, tech))
    return [out / "variants.json", out / "variants.md"]
