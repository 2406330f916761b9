"""Plots and the Markdown summary of a sweep.

* ``pareto.png`` — energy per token against relative error, every point, the Pareto front
  (no other point has both less error and less energy) drawn and labelled;
* ``axes.png`` — energy and area against each axis (one column per axis);
* ``summary.md`` — what ran, the best point for each measured figure, the Pareto front, the
  points that failed and why.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..cache import write_atomic
from .spec import SweepSpec

__all__ = ["pareto_front", "write_report", "summary_markdown"]

ERROR, ENERGY, AREA = "accuracy.rel_error", "ppa.energy_pJ", "ppa.area_um2"

#: Figures the summary names a best point for: column, lower is better, label.
BEST = ((ERROR, True, "lowest error vs ideal attention"),
        (ENERGY, True, "lowest energy per token (pJ)"),
        (AREA, True, "smallest area (µm²)"),
        ("ppa.latency_ns", True, "lowest latency (ns)"),
        ("synthesis.transistors", True, "fewest transistors (digital)"),
        ("synthesis.depth", True, "shallowest logic (gate levels)"),
        ("synthesis.fpga_fmax_mhz", False, "highest FPGA Fmax (MHz)"))


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, (bool, str)):
        return None
    x = float(x)
    return None if math.isnan(x) else x


def pareto_front(rows: list[dict[str, Any]], x: str = ERROR, y: str = ENERGY
                 ) -> list[dict[str, Any]]:
    """Rows not dominated in (``x``, ``y``), both minimised; sorted by ``x``."""
    pts = [r for r in rows if _num(r.get(x)) is not None and _num(r.get(y)) is not None]
    front = [r for r in pts if not any(
        _num(o[x]) <= _num(r[x]) and _num(o[y]) <= _num(r[y])
        and (_num(o[x]) < _num(r[x]) or _num(o[y]) < _num(r[y])) for o in pts)]
    return sorted(front, key=lambda r: (_num(r[x]), _num(r[y])))


def _label(spec: SweepSpec, r: dict[str, Any]) -> str:
    parts = [f"{a.split('.', 1)[1]}={r[a]}" for a in spec.axes]
    if len(spec.seeds) > 1:
        parts.append(f"seed={r['seed']}")
    return ", ".join(parts) or f"point {r['point']}"


def _plot_pareto(spec: SweepSpec, rows: list[dict[str, Any]], path: Path) -> Path | None:
    pts = [r for r in rows if _num(r.get(ERROR)) is not None and _num(r.get(ENERGY)) is not None]
    if not pts:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = pareto_front(rows)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.scatter([r[ERROR] for r in pts], [r[ENERGY] for r in pts], c="0.6", s=22,
               label="points")
    ax.plot([r[ERROR] for r in front], [r[ENERGY] for r in front], "o-", c="C3",
            label="Pareto front")
    for r in front:
        ax.annotate(_label(spec, r), (r[ERROR], r[ENERGY]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="relative error vs ideal ReLU attention", ylabel="energy per token (pJ)",
           title=f"{spec.name}: energy vs error ({len(pts)} points)")
    if max(r[ENERGY] for r in pts) > 20 * min(r[ENERGY] for r in pts) > 0:
        ax.set_yscale("log")
    ax.grid(alpha=.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_axes(spec: SweepSpec, rows: list[dict[str, Any]], path: Path) -> Path | None:
    metrics = [(c, t) for c, t in ((ENERGY, "energy per token (pJ)"), (AREA, "area (µm²)"))
               if any(_num(r.get(c)) is not None for r in rows)]
    if not metrics or not spec.axes:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = list(spec.axes)
    fig, grid = plt.subplots(len(metrics), len(axes), squeeze=False,
                             figsize=(3.6 * len(axes) + 1, 3.2 * len(metrics)))
    for j, a in enumerate(axes):
        values = spec.axes[a]
        numeric = all(_num(v) is not None for v in values)
        pos = {repr(v): (v if numeric else i) for i, v in enumerate(values)}
        # colour by another axis (the first one that is not this one), so the spread is read
        by = next((b for b in axes if b != a), None)
        for i, (col, title) in enumerate(metrics):
            ax = grid[i][j]
            pts = [r for r in rows if _num(r.get(col)) is not None]
            groups = spec.axes[by] if by else [None]
            for g, gv in enumerate(groups):
                sel = [r for r in pts if by is None or r[by] == gv]
                ax.scatter([pos[repr(r[a])] for r in sel], [r[col] for r in sel], s=18,
                           alpha=.75, color=f"C{g % 10}",
                           label=f"{by.split('.', 1)[1]}={gv}" if by else None)
            if by and i == 0 and len(groups) <= 10:
                ax.legend(fontsize=7)
            if not numeric:
                ax.set_xticks(range(len(values)), [str(v) for v in values])
            elif len(values) > 2 and min(values) > 0 and max(values) / min(values) >= 8:
                ax.set_xscale("log", base=2)
            ax.set(xlabel=a, ylabel=title if j == 0 else None)
            ax.grid(alpha=.3)
    fig.suptitle(f"{spec.name}: energy and area along each axis (every point, coloured by "
                 "another axis)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def summary_markdown(spec: SweepSpec, rows: list[dict[str, Any]], run: dict[str, Any],
                     plots: dict[str, Path]) -> str:
    ok = [r for r in rows if r["status"] == "ok"]
    grid = " × ".join(f"{len(v)} `{k}`" for k, v in spec.axes.items()) or "no axes"
    lines = [f"# Sweep `{spec.name}`", "",
             f"{run['points']} points ({grid} × {len(spec.seeds)} seed(s)); measures: "
             f"{', '.join(spec.measures)}.  Computed {run['computed']}, from the cache "
             f"{run['cached']}, failed {run['failed']}; {run['executor']}; "
             f"{run['wall_s']:.1f} s wall.", "", "## Best points", "",
             "| figure | value | point |", "|---|---|---|"]
    for col, lower, title in BEST:
        have = [r for r in ok if _num(r.get(col)) is not None]
        if have:
            best = (min if lower else max)(have, key=lambda r: _num(r[col]))
            lines.append(f"| {title} | {_fmt(best[col])} | {best['point']}: "
                         f"{_label(spec, best)} |")
    front = pareto_front(ok)
    if front:
        lines += ["", "## Pareto front: energy vs error", "",
                  "No other point has both less error and less energy per token.", "",
                  "| point | config | rel. error | energy (pJ) | area (µm²) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['point']} | {_label(spec, r)} | {_fmt(r[ERROR])} | "
                  f"{_fmt(r[ENERGY])} | {_fmt(r.get(AREA))} |" for r in front]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed points", "", "| point | config | error |", "|---|---|---|"]
        lines += [f"| {r['point']} | {_label(spec, r)} | {r['error']} |" for r in failed]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{k}]({p.name})" for k, p in plots.items()]
    return "\n".join(lines) + "\n"


def write_report(spec: SweepSpec, rows: list[dict[str, Any]], run: dict[str, Any], out: Path
                 ) -> dict[str, Path]:
    """``pareto.png``, ``axes.png`` (when there is something to draw) and ``summary.md``."""
    out = Path(out)
    plots = {k: p for k, p in (("pareto", _plot_pareto(spec, rows, out / "pareto.png")),
                               ("axes", _plot_axes(spec, rows, out / "axes.png"))) if p}
    for k, name in (("pareto", "pareto.png"), ("axes", "axes.png")):
        if k not in plots and (out / name).exists():
            (out / name).unlink()  # a plot of an earlier sweep into this folder
    md = out / "summary.md"
    write_atomic(md, summary_markdown(spec, rows, run, plots))
    return {**plots, "summary": md}
