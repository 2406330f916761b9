"""Energy, latency and area model of one gain-cell attention head — the one place it lives.

Pure Python (no numpy, no simulator): :mod:`flows.ppa` feeds it the measured quantities
(switching activity of our synthesised netlist, transistor counts, data activity) and it turns
them into joules, seconds and µm².  Every parameter is a :class:`Param` carrying its unit and its
source; a source that is an assumption says so ("ASSUMED").

The presets are keyed by the names the configuration accepts (``tech.preset``,
``tech.analog_preset``), listed once in :mod:`hdl.registry`; importing this module checks that
:data:`TECH_BY_NAME` and :data:`ANALOG_BY_NAME` define exactly those names.  Structural scaling
of the digital blocks reads each block's ``scales_with`` from the same registry.

This file is longer than the flows' usual ~400 lines: most of it is the cited presets, kept in
one file with the model that uses them so that every number stands beside its source.

Analog (preset ``paper``)
    P's energy per token per head (model-spec §9.1, code ``utils/plot_energy.py``):
    Φ(Q·Kᵀ) 1120 pJ, Φ(S)·V 700 pJ, DACs 330 pJ, digital 4 nJ, total 6.15 nJ, latency 65 ns.
    P gives one number per phase; the model splits each over the things that physically scale:

    * QK phase = cells read × mean query pulse duty x̄ × e_qk_cell + columns × e_c2p1
    * AV phase = cells read × mean A pulse duty Ā × e_av_cell + (tiles × d) × e_c2p2
    * DACs = 2·d written cells per token (one K and one V column) × e_dac_cell

    The per-unit energies are calibrated so that the default geometry (d = 64, W = 1024,
    16 tiles) at the reference activities gives exactly P's figures.  The C2P share of each phase
    and the reference activities are not in P or C: they are stated assumptions.

Digital (presets ``n28``, ``nangate45``, ``sky130``)
    Dynamic energy from switching activity of the synthesised gate netlist:
    a net toggle costs ½·V²·(C_in·(fanout + p_self) + C_wire·fanout), a clocked flip-flop costs
    V²·(C_in·clock_loads + C_wire) per cycle (clock pin and clock wire charged and discharged),
    and a flip-flop whose data changes adds ½·V²·C_in·ff_internal_loads.  Leakage is not modelled
    (at 65 ns per token it is orders of magnitude below the dynamic energy in these nodes).

Area
    Digital: transistors (synthesis) × area per transistor (NAND2 cell area / 4).
    Analog: 2 arrays × W × d cells, W ReLU C2Ps, tiles × d signed C2Ps, tiles × d DACs, with
    per-unit areas that P does not give (model-spec §9.1: NOT FOUND) — ASSUMED values.  The
    ``pingpong`` schedule has two C2P sets (``Schedule.c2p_sets``): twice the C2P area; its
    analog energy per token is the same (each token is converted once, by one set; the idle
    set's static energy is not modelled, like all leakage here).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from hdl.config import HeadConfig
from hdl.registry import ANALOG_ENERGY_PRESETS, BLOCKS, HEAD_BLOCK, TECH_PRESETS
from hdl.schedule import Schedule

__all__ = [
    "Param", "TechPreset", "AnalogPreset", "TECH_BY_NAME", "ANALOG_BY_NAME", "BASELINES",
    "HBM_PJ_PER_BIT", "analog_energy", "digital_energy", "latency", "area", "hbm_floor",
    "comparison", "scale_config", "digital_scale_factor", "tech_preset", "analog_preset",
]


@dataclass(frozen=True)
class Param:
    """A number with its unit and where it comes from."""

    value: float
    unit: str
    source: str

    def __float__(self) -> float:
        return float(self.value)


def _p(value: float, unit: str, source: str) -> Param:
    return Param(float(value), unit, source)


# -- digital technology presets ----------------------------------------------------------------
WH = ("Weste & Harris, CMOS VLSI Design, 4th ed. (2011)")
NANGATE = "NangateOpenCellLibrary_typical.lib (Nangate/Si2 FreePDK45 Open Cell Library)"
SKY130 = "sky130_fd_sc_hd__tt_025C_1v80.lib (SkyWater SKY130 open PDK, HD cells, typical)"


@dataclass(frozen=True)
class TechPreset:
    """Digital technology: supply, capacitances and cell area of one standard-cell library."""

    name: str
    vdd_V: Param
    c_in_fF: Param
    """Input capacitance of a minimum 2-input gate (one fan-out load)."""
    p_self: Param
    """Output (diffusion) self-load in units of C_in."""
    wire_fF_per_um: Param
    wire_um_per_fanout: Param
    ff_clock_loads: Param
    """Gate-input loads on the clock inside one flip-flop."""
    icg_clock_loads: Param
    """Gate-input loads on the (ungated) clock inside one integrated clock-gating cell."""
    ff_internal_loads: Param
    """Internal latch-node loads that switch when the stored bit changes."""
    nand2_area_um2: Param

    @property
    def c_wire_fF(self) -> float:
        return float(self.wire_fF_per_um) * float(self.wire_um_per_fanout)

    @property
    def area_per_transistor_um2(self) -> float:
        return float(self.nand2_area_um2) / 4.0

    def e_toggle_fJ(self, fanout: float) -> float:
        """Energy of one transition of a net driving ``fanout`` gate inputs."""
        v = float(self.vdd_V)
        c = float(self.c_in_fF) * (fanout + float(self.p_self)) + self.c_wire_fF * fanout
        return 0.5 * v * v * c

    @property
    def e_ff_clock_fJ(self) -> float:
        """Energy per flip-flop per clock cycle (clock pin + its share of clock wire)."""
        v = float(self.vdd_V)
        return v * v * (float(self.c_in_fF) * float(self.ff_clock_loads) + self.c_wire_fF)

    @property
    def e_icg_clock_fJ(self) -> float:
        """Energy per clock-gating cell per clock cycle (its clock pins + clock-wire share)."""
        v = float(self.vdd_V)
        return v * v * (float(self.c_in_fF) * float(self.icg_clock_loads) + self.c_wire_fF)

    @property
    def e_ff_data_fJ(self) -> float:
        """Extra energy inside a flip-flop when its stored bit changes."""
        v = float(self.vdd_V)
        return 0.5 * v * v * float(self.c_in_fF) * float(self.ff_internal_loads)

    def params(self) -> dict[str, dict[str, Any]]:
        return {f.name: {"value": getattr(self, f.name).value, "unit": getattr(self, f.name).unit,
                         "source": getattr(self, f.name).source}
                for f in fields(self) if isinstance(getattr(self, f.name), Param)}


_COMMON = dict(
    p_self=_p(1.0, "× C_in", f"{WH}, §4.4.2: parasitic delay of an inverter p_inv ≈ 1, i.e. "
                             "diffusion capacitance ≈ gate input capacitance"),
    wire_fF_per_um=_p(0.2, "fF/µm", f"{WH}, §6.2.1.2: typical on-chip wire capacitance "
                                    "≈ 0.2 fF/µm"),
    ff_clock_loads=_p(4.0, "× C_in", f"{WH}, §10.3.4 (Fig. 10.19b): the transmission-gate "
                                     "master-slave flip-flop loads the clock with 4 "
                                     "transmission gates + the local clock inverter ≈ 4 gate "
                                     "inputs"),
    icg_clock_loads=_p(3.0, "× C_in", f"{WH}, §10.4 clock gating: an integrated clock gate "
                                      "= a latch on the enable (2 clock-driven transmission "
                                      "gates, half the flip-flop's 4) + the AND2 clock input "
                                      "(1), clocked every cycle"),
    ff_internal_loads=_p(4.0, "× C_in", f"{WH}, §10.3.4: two latch storage nodes, each an "
                                        "inverter input plus a transmission-gate diffusion"),
)

TECH_BY_NAME: dict[str, TechPreset] = {
    "nangate45": TechPreset(
        name="nangate45",
        vdd_V=_p(1.1, "V", f"{NANGATE}: nom_voltage 1.10 (typical corner)"),
        c_in_fF=_p(1.599, "fF", f"{NANGATE}: NAND2_X1 pin A1 capacitance 1.599032 fF"),
        wire_um_per_fanout=_p(3.6, "µm", "ASSUMED: 4 NAND2 widths of local wire per sink "
                                         "(4 × √0.798 µm²)"),
        nand2_area_um2=_p(0.798, "µm²", f"{NANGATE}: NAND2_X1 area 0.798 µm²"),
        **_COMMON,
    ),
    "sky130": TechPreset(
        name="sky130",
        vdd_V=_p(1.8, "V", f"{SKY130}: corner 1v80"),
        c_in_fF=_p(2.315, "fF", f"{SKY130}: sky130_fd_sc_hd__nand2_1 pin A capacitance "
                                "0.002315 pF"),
        wire_um_per_fanout=_p(7.75, "µm", "ASSUMED: 4 NAND2 widths of local wire per sink "
                                          "(4 × √3.7536 µm²)"),
        nand2_area_um2=_p(3.7536, "µm²", f"{SKY130}: sky130_fd_sc_hd__nand2_1 area 3.7536 µm²"),
        **_COMMON,
    ),
    # 28 nm-class: the paper's 1 GHz clock and TSMC PDK; no open 28 nm library exists, so the
    # 45 nm library is scaled (constant-field: C ∝ L, area ∝ L²) and the supply set to 0.9 V.
    "n28": TechPreset(
        name="n28",
        vdd_V=_p(0.9, "V", "TSMC 28 nm HPC/HPC+ nominal core supply 0.9 V "
                           "(tsmc.com, 28nm Technology page)"),
        c_in_fF=_p(1.599 * 28 / 45, "fF", f"DERIVED: {NANGATE} NAND2_X1 1.599 fF × 28/45 "
                                         "(gate capacitance ∝ feature size)"),
        wire_um_per_fanout=_p(3.6 * 28 / 45, "µm", "ASSUMED: 4 NAND2 widths, scaled × 28/45"),
        nand2_area_um2=_p(0.798 * (28 / 45) ** 2, "µm²",
                          f"DERIVED: {NANGATE} NAND2_X1 0.798 µm² × (28/45)²"),
        **_COMMON,
    ),
}


def tech_preset(name: str) -> TechPreset:
    if name not in TECH_BY_NAME:
        raise ValueError(f"tech preset must be one of {', '.join(TECH_BY_NAME)}, not {name!r}")
    return TECH_BY_NAME[name]


# -- analog presets ------------------------------------------------------------------------------
PLOT = "P/C utils/plot_energy.py (model-spec §9.1)"


@dataclass(frozen=True)
class AnalogPreset:
    """Analog energy and area of the arrays, C2P circuits and DACs."""

    name: str
    e_qk_ref_pJ: Param
    e_av_ref_pJ: Param
    e_dac_ref_pJ: Param
    e_digital_paper_pJ: Param
    latency_paper_ns: Param
    ref_head_dim: Param
    ref_window: Param
    ref_tiles: Param
    ref_q_duty: Param
    ref_a_duty: Param
    qk_c2p_share: Param
    av_c2p_share: Param
    cell_area_um2: Param
    c2p_area_um2: Param
    dac_area_um2: Param

    # Per-unit energies, derived from the calibration point (one place).
    @property
    def e_qk_cell_pJ(self) -> float:
        """Energy of one K cell read at full query duty."""
        return (float(self.e_qk_ref_pJ) * (1 - float(self.qk_c2p_share))
                / (float(self.ref_window) * float(self.ref_head_dim) * float(self.ref_q_duty)))

    @property
    def e_c2p1_pJ(self) -> float:
        """Energy of one ReLU C2P conversion (one per window column per token)."""
        return float(self.e_qk_ref_pJ) * float(self.qk_c2p_share) / float(self.ref_window)

    @property
    def e_av_cell_pJ(self) -> float:
        return (float(self.e_av_ref_pJ) * (1 - float(self.av_c2p_share))
                / (float(self.ref_window) * float(self.ref_head_dim) * float(self.ref_a_duty)))

    @property
    def e_c2p2_pJ(self) -> float:
        """Energy of one signed C2P conversion (one per tile and dimension per token)."""
        return (float(self.e_av_ref_pJ) * float(self.av_c2p_share)
                / (float(self.ref_tiles) * float(self.ref_head_dim)))

    @property
    def e_dac_cell_pJ(self) -> float:
        """Energy of writing one cell (one DAC conversion): 2·d cells per token."""
        return float(self.e_dac_ref_pJ) / (2 * float(self.ref_head_dim))

    def params(self) -> dict[str, dict[str, Any]]:
        out = {f.name: {"value": getattr(self, f.name).value, "unit": getattr(self, f.name).unit,
                        "source": getattr(self, f.name).source}
               for f in fields(self) if isinstance(getattr(self, f.name), Param)}
        for name in ("e_qk_cell_pJ", "e_c2p1_pJ", "e_av_cell_pJ", "e_c2p2_pJ", "e_dac_cell_pJ"):
            out[name] = {"value": getattr(self, name), "unit": "pJ",
                         "source": "DERIVED: calibrated so the reference point gives P's figures"}
        return out


ANALOG_BY_NAME: dict[str, AnalogPreset] = {
    "paper": AnalogPreset(
        name="paper",
        e_qk_ref_pJ=_p(1120, "pJ", f"{PLOT}: Φ(Q·Kᵀ), first gain-cell array + C2P, per token "
                                   "per head"),
        e_av_ref_pJ=_p(700, "pJ", f"{PLOT}: Φ(S)·V, second array + signed C2P"),
        e_dac_ref_pJ=_p(330, "pJ", f"{PLOT}: DACs (K/V writing)"),
        e_digital_paper_pJ=_p(4000, "pJ", f"{PLOT}: digital control and routing (an estimate)"),
        latency_paper_ns=_p(65, "ns", "P §4.1 and C plot_energy.py latency_IMC = 65e-9"),
        ref_head_dim=_p(64, "rows", "P §2.3: d = 64"),
        ref_window=_p(1024, "columns", "P §2.3: 16 sub-tiles × 64 columns"),
        ref_tiles=_p(16, "tiles", "P §2.3"),
        ref_q_duty=_p(0.5, "T_max", "ASSUMED: mean query PWM duty of queries uniform on [0, 1] "
                                    "(P/C give no activity for the energy figure)"),
        ref_a_duty=_p(0.25, "T_max", "ASSUMED: mean A duty; P says only that A is sparse "
                                     "(hence 700 < 1120 pJ)"),
        qk_c2p_share=_p(0.2, "fraction", "ASSUMED: share of the 1120 pJ spent in the ReLU C2Ps "
                                         "(P gives the sum only)"),
        av_c2p_share=_p(0.2, "fraction", "ASSUMED: share of the 700 pJ spent in the signed C2Ps "
                                         "(P gives the sum only)"),
        cell_area_um2=_p(1.0, "µm²", "ASSUMED: P's gain-cell areas are stripped (model-spec §9.1 "
                                     "NOT FOUND); order of a 2T/3T gain cell in a 28 nm-class "
                                     "node"),
        c2p_area_um2=_p(25.0, "µm²", "ASSUMED: one integrator capacitor + comparator per column "
                                     "(no number in P/C)"),
        dac_area_um2=_p(50.0, "µm²", "ASSUMED: one 3-bit voltage DAC (no number in P/C)"),
    ),
}


def analog_preset(name: str) -> AnalogPreset:
    if name not in ANALOG_BY_NAME:
        raise ValueError(f"analog preset must be one of {', '.join(ANALOG_BY_NAME)}, "
                         f"not {name!r}")
    return ANALOG_BY_NAME[name]


def _check_preset_names(kind: str, defined: dict, registered: tuple[str, ...]) -> None:
    if set(defined) != set(registered):
        raise RuntimeError(f"flows/ppa/energy.py defines the {kind} presets "
                           f"{', '.join(sorted(defined))} but hdl/registry.py lists "
                           f"{', '.join(sorted(registered))}: the two must name the same presets")


_check_preset_names("technology", TECH_BY_NAME, TECH_PRESETS)
_check_preset_names("analog energy", ANALOG_BY_NAME, ANALOG_ENERGY_PRESETS)


# -- the model -------------------------------------------------------------------------------------
def analog_energy(cfg: HeadConfig, q_duty: float | None = None, a_duty: float | None = None,
                  valid_columns: int | None = None,
                  preset: AnalogPreset | None = None) -> dict[str, float]:
    """Analog energy per token per head in pJ: ``qk``, ``av``, ``dac`` and ``total``.

    ``q_duty`` = mean query PWM duty (code / q_max), ``a_duty`` = mean A over valid columns,
    ``valid_columns`` = columns holding a token (default: the full window, steady state).
    None = the preset's reference activity."""
    p = preset or analog_preset(cfg.tech.analog_preset)
    a = cfg.array
    x = float(p.ref_q_duty) if q_duty is None else q_duty
    act = float(p.ref_a_duty) if a_duty is None else a_duty
    cols = a.window if valid_columns is None else valid_columns
    qk_cells = cols * a.head_dim * x * p.e_qk_cell_pJ
    qk_c2p = cols * p.e_c2p1_pJ
    av_cells = cols * a.head_dim * act * p.e_av_cell_pJ
    av_c2p = a.n_channels * p.e_c2p2_pJ
    dac = 2 * a.head_dim * p.e_dac_cell_pJ
    out = {"qk_array": qk_cells, "qk_c2p": qk_c2p, "qk": qk_cells + qk_c2p,
           "av_array": av_cells, "av_c2p": av_c2p, "av": av_cells + av_c2p, "dac": dac}
    out["total"] = out["qk"] + out["av"] + out["dac"]
    return out


def digital_energy(activity: dict[str, float], tech: TechPreset) -> dict[str, float]:
    """Digital energy per token in pJ from switching activity of the netlist.

    ``activity`` (per token, from :mod:`flows.ppa.activity`): ``toggles_by_fanout`` — a dict
    {fanout: transitions of nets with that fan-out}, ``ff_clock_events`` — clocked flip-flop
    cycles (an enable flip-flop only while its enable is high), ``icg_clock_events`` —
    clock-gating cells × cycles (0 or absent without gating), ``ff_data_toggles`` — flip-flop
    output transitions."""
    net = sum(n * tech.e_toggle_fJ(float(fo))
              for fo, n in activity["toggles_by_fanout"].items()) / 1000.0
    clock = activity["ff_clock_events"] * tech.e_ff_clock_fJ / 1000.0
    icg = activity.get("icg_clock_events", 0.0) * tech.e_icg_clock_fJ / 1000.0
    ffd = activity["ff_data_toggles"] * tech.e_ff_data_fJ / 1000.0
    return {"nets": net, "ff_clock": clock, "icg": icg, "ff_data": ffd,
            "total": net + clock + icg + ffd}


def latency(cfg: HeadConfig) -> dict[str, float]:
    """Latency and throughput from the RTL schedule (hdl/schedule.py)."""
    s = Schedule(cfg)
    t = cfg.timing.t_clk_ns
    return {
        "latency_cycles": s.latency, "latency_ns": s.latency * t,
        "initiation_interval_cycles": s.initiation_interval,
        "ii_ns": s.initiation_interval * t,
        "throughput_tokens_per_s": 1e9 / (s.initiation_interval * t),
        "adder_latency_cycles": s.adder_latency, "t_clk_ns": t,
    }


def area(cfg: HeadConfig, digital_transistors: float, tech: TechPreset,
         preset: AnalogPreset | None = None) -> dict[str, float]:
    """Area in µm²: digital from transistors, analog from cell / C2P / DAC counts."""
    p = preset or analog_preset(cfg.tech.analog_preset)
    a = cfg.array
    cells = 2 * a.window * a.head_dim
    n_c2p = (a.window + a.n_channels) * Schedule(cfg).c2p_sets
    out = {
        "digital": digital_transistors * tech.area_per_transistor_um2,
        "arrays": cells * float(p.cell_area_um2),
        "c2p": n_c2p * float(p.c2p_area_um2),
        "dacs": a.n_channels * float(p.dac_area_um2),
        "n_cells": cells, "n_c2p": n_c2p,
        "n_dacs": a.n_channels,
    }
    out["analog"] = out["arrays"] + out["c2p"] + out["dacs"]
    out["total"] = out["digital"] + out["analog"]
    return out


# -- baselines ----------------------------------------------------------------------------------
GPU = "P / C tests_divers/test_speed_energy.py, D JSONs (model-spec §9.2)"
BASELINES: dict[str, dict[str, Any]] = {
    "RTX 4090": {"latency_s": 2.2372e-5, "energy_J": 7.1783e-3, "heads": 12,
                 "source": f"{GPU}: nvidia_4090_attention.json",
                 "note": "per token for 12 heads, batch of 64 sequences amortised (per-step "
                         "latency 1.43 ms)"},
    "Jetson Nano": {"latency_s": 4.8885e-4, "energy_J": 3.2458e-3, "heads": 12,
                    "source": f"{GPU}: nvidia_jetson_attention.json",
                    "note": "per token for 12 heads, batch of 64 amortised (per-step 31.3 ms)"},
}
HBM_PJ_PER_BIT = Param(3.4, "pJ/bit", "issue #5 (HBM access energy used for the floor)")


def hbm_floor(cfg: HeadConfig, heads: int = 12) -> dict[str, dict[str, float]]:
    """Energy of just reading the KV cache of one layer from HBM once per token.

    Values = 2 (K, V) × heads × d × W (1.57 M at the defaults)."""
    values = 2 * heads * cfg.array.head_dim * cfg.array.window
    return {name: {"values": values, "bits": bits,
                   "energy_J": values * bits * float(HBM_PJ_PER_BIT) * 1e-12}
            for name, bits in (("FP16", 16), ("INT8", 8), ("3-bit", 3))}


def comparison(cfg: HeadConfig, e_head_pJ: float, latency_ns: float,
               heads: int = 12) -> list[dict[str, Any]]:
    """One table: this head ×heads against the GPUs and the HBM floor, with ratios."""
    ours_J = e_head_pJ * heads * 1e-12
    ours_s = latency_ns * 1e-9
    rows = [{"name": f"this work ({heads} heads)", "latency_s": ours_s, "energy_J": ours_J,
             "speedup": 1.0, "energy_ratio": 1.0, "note": "heads in parallel"}]
    for name, b in BASELINES.items():
        rows.append({"name": name, "latency_s": b["latency_s"], "energy_J": b["energy_J"],
                     "speedup": b["latency_s"] / ours_s, "energy_ratio": b["energy_J"] / ours_J,
                     "note": b["note"], "source": b["source"]})
    for name, h in hbm_floor(cfg, heads).items():
        rows.append({"name": f"HBM floor {name}", "latency_s": None, "energy_J": h["energy_J"],
                     "speedup": None, "energy_ratio": h["energy_J"] / ours_J,
                     "note": f"{h['values']:,} values × {h['bits']} bit × "
                             f"{HBM_PJ_PER_BIT.value} pJ/bit, KV read only",
                     "source": HBM_PJ_PER_BIT.source})
    return rows


# -- scaling ---------------------------------------------------------------------------------------
def scale_config(cfg: HeadConfig, *, window: int | None = None,
                 head_dim: int | None = None) -> HeadConfig:
    """``cfg`` with another window (more tiles of the same width) and/or head dim."""
    a = cfg.array
    kw: dict[str, Any] = {}
    if window is not None:
        if window % a.tile_cols:
            raise ValueError(f"window {window} is not a multiple of tile_cols {a.tile_cols}")
        kw["n_tiles"] = window // a.tile_cols
    if head_dim is not None:
        kw["head_dim"] = head_dim
    return replace(cfg, array=replace(a, **kw))


def digital_scale_factor(ref: HeadConfig, cfg: HeadConfig,
                         block_transistors: dict[str, float]) -> float:
    """Ratio of the head's digital size at ``cfg`` to ``ref``, from the synthesised per-block
    transistor counts at ``ref`` and each block's structural scaling (``scales_with`` in
    :data:`hdl.registry.BLOCKS`); the adder trees also grow by their width (log2 of the
    tiles).  Used for the sweep only.  An unknown block, or one that does not scale by one of
    ``d``, ``nd``, ``W`` (the whole head), is a ``ValueError``."""
    ra, ca = ref.array, cfg.array
    factors = {"d": ca.head_dim / ra.head_dim, "nd": ca.n_channels / ra.n_channels,
               "W": ca.window / ra.window}
    total = sum(block_transistors.values()) or 1.0
    scaled = 0.0
    for b, t in block_transistors.items():
        if b not in BLOCKS:
            raise ValueError(f"unknown block {b!r}; known: {', '.join(BLOCKS)}")
        kind = BLOCKS[b].scales_with
        if kind not in factors:
            hint = " (the whole head: give its blocks' counts)" if b == HEAD_BLOCK else ""
            raise ValueError(f"block {b!r} scales with {kind!r}{hint}; structural scaling "
                             f"knows {', '.join(factors)}")
        f = factors[kind]
        if b == "adder_tree":
            f *= ca.sum_width / ra.sum_width
        scaled += t * f
    return scaled / total
