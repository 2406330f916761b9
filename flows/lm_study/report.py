"""The study's outputs: ``results.json``, ``results.md`` (the table), ``curves.png`` (training
loss of every trained row along the flow) and ``gap.png`` (gap to softmax per step)."""

from __future__ import annotations

import json
from pathlib import Path

from flows.cache import write_atomic

from .study import ROWS

__all__ = ["write_report", "markdown_table"]


def _cell(row: dict, m: str, fmt: str) -> str:
    if f"{m}_std" in row:
        return f"{row[m]:{fmt}} ± {row[f'{m}_std']:{fmt}}"
    return f"{row[m]:{fmt}}"


def _gaps(res: dict) -> None:
    """gap_bpc = bits/char − softmax's, on every finished row (a partial run too)."""
    base = res["rows"].get("softmax", {}).get("bpc")
    for row in res["rows"].values():
        row["gap_bpc"] = float("nan") if base is None else row["bpc"] - base


def markdown_table(res: dict) -> str:
    _gaps(res)
    m = res["model"]
    lines = [
        f"Character LM: {m['params']:,} parameters ({m['n_layer']} layers, {m['n_head']} heads "
        f"× {m['head_dim']}), context {m['context']}, hardware window W = {res['window']}; "
        f"corpus {res['corpus']['name']} ({res['corpus']['train_chars']:,} training / "
        f"{res['corpus']['val_chars']:,} validation characters); "
        f"{res['settings']['steps']} base steps, batch {res['settings']['batch']}; "
        f"wall time {res['seconds'] / 60:.1f} min.  Leakage λ = "
        f"{res['leakage_lambda_per_token']:.3g} per token step (oldest cell of the window at "
        f"D = {res['oldest_cell_decay']:.4f}).",
        "",
        "| step of the flow | bits/char on entry | trained steps | val bits/char | "
        "gap to softmax | next-char accuracy | non-zero head outputs |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in ROWS:
        row = res["rows"].get(key)
        if row is None:
            lines.append(f"| {label} | | — | not run | | | |")
            continue
        nz = f"{row['nonzero_outputs']:.2f}" if "nonzero_outputs" in row else "—"
        entry = f"{row['before_training']['bpc']:.3f}" if "before_training" in row else "—"
        lines.append(f"| {label} | {entry} | {row.get('steps', 0)} | {_cell(row, 'bpc', '.3f')} | "
                     f"{row['gap_bpc']:+.3f} | {_cell(row, 'accuracy', '.3f')} | {nz} |")
    lines += ["", "*bits/char on entry*: the row's model before its own training (the previous "
              "row's weights under this row's attention); *non-zero head outputs*: share of "
              "hardware head outputs (tile-summed counts) that are not 0 on the calibration "
              "batch."]
    ad = res["rows"].get("adapted", {}).get("adaptation")
    if ad:
        tr = ad["trace"]
        lines += ["", f"Adaptation: {'converged' if ad['converged'] else 'did not converge'} "
                  f"after {ad['iterations']} iterations; largest stage mismatch "
                  f"{ad['mismatch_before']:.3g} with the linear model's scalers, "
                  f"{tr[0]['mismatch']:.3g} after the reset to (1, 0), {tr[-1]['mismatch']:.3g}"
                  f" at the end; calibration loss {tr[0]['loss']:.3f} → {tr[-1]['loss']:.3f} "
                  "nats."]
    return "\n".join(lines) + "\n"


def write_report(res: dict, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    _gaps(res)
    paths = [out / "results.json", out / "results.md", out / "curves.png", out / "gap.png"]
    write_atomic(paths[0], json.dumps(res, indent=1))
    write_atomic(paths[1], markdown_table(res))

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    off = 0
    for key, label in ROWS:
        row = res["rows"].get(key, {})
        if "curve" in row:
            st = [off + c["step"] for c in row["curve"]]
            ax[0].plot(st, [c["loss"] / 0.6931471805599453 for c in row["curve"]], label=label)
            off = st[-1]
    ax[0].set_xlabel("training step (cumulative along the flow)")
    ax[0].set_ylabel("training loss, bits/char")
    ax[0].legend(fontsize=7)
    ad = res["rows"].get("adapted", {}).get("adaptation")
    if ad:
        tr = ad["trace"]
        ax[1].semilogy([t["iteration"] for t in tr], [t["mismatch"] for t in tr], "o-")
        ax[1].set_xlabel("adaptation iteration")
        ax[1].set_ylabel("largest |Δμ| or |Δσ| of a stage")
        ax[1].set_title("statistics-matching adaptation")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=110)
    plt.close(fig)

    keys = [(k, lab) for k, lab in ROWS if k in res["rows"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    gaps = [res["rows"][k]["gap_bpc"] for k, _ in keys]
    err = [res["rows"][k].get("bpc_std", 0.0) for k, _ in keys]
    ax.bar(range(len(keys)), gaps, yerr=err, color="tab:blue")
    ax.set_xticks(range(len(keys)), [lab for _, lab in keys], rotation=35, ha="right",
                  fontsize=8)
    ax.set_ylabel("val bits/char − softmax")
    ax.set_title("gap to softmax (full context) per step of the flow")
    ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    fig.savefig(paths[3], dpi=110)
    plt.close(fig)
    return paths
