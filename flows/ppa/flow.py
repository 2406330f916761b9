"""The PPA flow: everything of the report of one head as a dict (``ppa.json``).

* analog energy per token per head from :mod:`flows.ppa.energy` (preset
  ``tech.analog_preset``), at the preset's reference activity (= P's figures at the defaults)
  and at the activity of the simulated tokens;
* digital energy per token from switching activity of our synthesised head netlist
  (:mod:`flows.synth` generic netlist, :mod:`flows.ppa.activity` Icarus run), for every
  technology preset, the selected one (``tech.preset``) in the totals;
* latency and throughput from :mod:`hdl.schedule`; area from synthesis + analog counts;
* one comparison table with the GPUs and the HBM floor, and a scaling sweep over window, head dim
  and number of heads (digital scaled by each block's structure, :mod:`hdl.registry`);
  :mod:`flows.sweep` synthesises and simulates every point instead.
"""

from __future__ import annotations

import logging
from typing import Any

from hdl.config import HeadConfig
from hdl.registry import HEAD_BLOCK, head_blocks

from ..synth import SynthError, run_synth
from ..tools import ROOT, ToolMissing, tool_versions
from . import energy as E
from .activity import simulate_activity

__all__ = ["run_ppa", "report_paper_total"]

log = logging.getLogger(__name__)


def run_ppa(cfg: HeadConfig, *, n_tokens: int = 24, seed: int = 0, heads: int = 12,
            sweep: bool = True, simulator: str = "auto") -> dict[str, Any]:
    """Everything of the PPA report as a dict (ppa.json).

    The blocks of the head are synthesised one by one only for the structural ``sweep`` (it
    scales each by its structure); without it ``blocks_transistors`` is empty and only the
    head is synthesised (what :mod:`flows.sweep` asks per point)."""
    blocks = [*head_blocks(cfg), HEAD_BLOCK] if sweep else [HEAD_BLOCK]
    log.info("synthesis (generic) of the head%s, config %s", " and its blocks" if sweep else "",
             cfg.hash)
    try:
        syn = run_synth(cfg, blocks, ["generic"])
    except (SynthError, ToolMissing):
        raise
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise SynthError(f"generic synthesis of the head raised {type(e).__name__}"
                         f"{': ' + first if first else ''}") from e
    head = syn["blocks"][HEAD_BLOCK]["targets"]["generic"]
    if head.get("status") != "ok":
        raise SynthError(f"generic synthesis of the head failed: {head.get('reason')}")
    block_t = {b: syn["blocks"][b]["targets"]["generic"]["transistors"]["total"]
               for b in blocks if b != HEAD_BLOCK
               if syn["blocks"].get(b, {}).get("targets", {}).get("generic", {}).get("status")
               == "ok"}
    log.info("switching activity of the head netlist")
    act = simulate_activity(cfg, ROOT / head["netlist"], ROOT / head["netlist_json"],
                            n_tokens=n_tokens, seed=seed, simulator=simulator)
    tech = E.tech_preset(cfg.tech.preset)
    apre = E.analog_preset(cfg.tech.analog_preset)
    digital = {name: E.digital_energy(act["per_token"], t) for name, t in E.TECH_BY_NAME.items()}
    an_ref = E.analog_energy(cfg, preset=apre)
    an_data = E.analog_energy(cfg, q_duty=act["q_duty"], a_duty=act["a_duty"], preset=apre)
    lat = E.latency(cfg)
    e_dig = digital[tech.name]["total"]
    e_head = an_data["total"] + e_dig
    ar = E.area(cfg, head["transistors"]["total"], tech, apre)
    report: dict[str, Any] = {
        "schema": "gca-ppa-report/1",
        "config": cfg.to_dict(), "config_hash": cfg.hash, "tools": tool_versions(),
        "rtl_source": syn["rtl_source"],
        "tech_preset": tech.name, "analog_preset": apre.name,
        "parameters": {"tech": {n: t.params() for n, t in E.TECH_BY_NAME.items()},
                       "analog": apre.params(),
                       "hbm_pJ_per_bit": {"value": E.HBM_PJ_PER_BIT.value,
                                          "source": E.HBM_PJ_PER_BIT.source}},
        "synthesis": {"head": {k: head[k] for k in ("n_cells", "n_gates", "n_ff",
                                                    "transistors", "depth")},
                      "blocks_transistors": block_t},
        "activity": act,
        "energy_pJ": {
            "analog_reference": an_ref, "analog_data": an_data,
            "digital": digital, "digital_selected": e_dig,
            "digital_paper": float(apre.e_digital_paper_pJ),
            "head_total": e_head,
            "paper_total": report_paper_total(apre),
        },
        "latency": {**lat, "paper_ns": float(apre.latency_paper_ns)},
        "area_um2": ar,
        "comparison": {
            "heads": heads,
            "this_work": E.comparison(cfg, e_head, lat["latency_ns"], heads),
            "paper": E.comparison(cfg, report_paper_total(apre), float(apre.latency_paper_ns),
                                  heads),
        },
    }
    if sweep:
        report["sweep"] = _sweep(cfg, report, block_t, heads)
    return report


def report_paper_total(p: E.AnalogPreset) -> float:
    return (float(p.e_qk_ref_pJ) + float(p.e_av_ref_pJ) + float(p.e_dac_ref_pJ)
            + float(p.e_digital_paper_pJ))


def _sweep(cfg: HeadConfig, rep: dict, block_t: dict[str, float], heads: int) -> list[dict]:
    """Energy, latency and area over window, head dim and heads (digital scaled by structure)."""
    act = rep["activity"]
    tech = E.tech_preset(cfg.tech.preset)
    e_dig0 = rep["energy_pJ"]["digital_selected"]
    t0 = rep["synthesis"]["head"]["transistors"]["total"]
    rows = []
    points: list[tuple[str, int, HeadConfig, int]] = []
    for w in (256, 512, 1024, 2048, 4096):
        if w % cfg.array.tile_cols == 0 and w // cfg.array.tile_cols <= 256:
            points.append(("window", w, E.scale_config(cfg, window=w), 1))
    for d in (16, 32, 64, 128, 256):
        points.append(("head_dim", d, E.scale_config(cfg, head_dim=d), 1))
    for h in (1, 4, 12, 32):
        points.append(("heads", h, cfg, h))
    for axis, value, c, h in points:
        f = E.digital_scale_factor(cfg, c, block_t)
        an = E.analog_energy(c, q_duty=act["q_duty"], a_duty=act["a_duty"])
        dig = e_dig0 * f
        lat = E.latency(c)
        ar = E.area(c, t0 * f, tech)
        rows.append({"axis": axis, "value": value, "window": c.array.window,
                     "head_dim": c.array.head_dim, "heads": h,
                     "energy_pJ": h * (an["total"] + dig), "analog_pJ": h * an["total"],
                     "digital_pJ": h * dig, "latency_ns": lat["latency_ns"],
                     "ii_ns": lat["ii_ns"], "area_mm2": h * ar["total"] / 1e6,
                     "digital_scale": f})
    return rows
