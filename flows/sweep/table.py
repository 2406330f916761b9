"""The results table of a sweep: one row per point, one column per axis and per measured value.

Columns, in order: ``point``, ``config_hash``, ``seed``, one per axis (``array.head_dim``, …),
then per measure ``<measure>.ok`` and its values (``accuracy.rel_error``, ``ppa.energy_pJ``,
…), then ``status`` (``ok`` / ``failed``), ``error`` (what failed, ``measure: Type: message``),
and how the row was obtained: ``seconds`` (compute time of its measures), ``worker``
(host:pid), ``cached``.  Written as Parquet (pandas + pyarrow) and CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cache import write_atomic

__all__ = ["to_frame", "write_table", "read_table"]

_HEAD = ("point", "config_hash", "seed")
_TAIL = ("status", "error", "seconds", "worker", "cached")


def to_frame(rows: list[dict[str, Any]]):
    """The rows as a pandas DataFrame with the columns in their documented order."""
    import pandas as pd

    seen: list[str] = []
    for r in rows:
        seen += [c for c in r if c not in seen]
    middle = [c for c in seen if c not in _HEAD and c not in _TAIL]
    axes = [c for c in middle if "." in c and c.split(".", 1)[0] in
            ("array", "timing", "analog", "tech")]
    measured = [c for c in middle if c not in axes]
    cols = [*_HEAD, *axes, *measured, *_TAIL]
    return pd.DataFrame.from_records(rows, columns=cols)


def write_table(rows: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    """``results.parquet`` and ``results.csv`` under ``out``."""
    df = to_frame(rows)
    pq, csv = Path(out) / "results.parquet", Path(out) / "results.csv"
    tmp = pq.with_name(".results.parquet.tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(pq)
    write_atomic(csv, df.to_csv(index=False))
    return {"parquet": pq, "csv": csv}


def read_table(path: Path):
    """A results table written by :func:`write_table` (Parquet or CSV)."""
    import pandas as pd

    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
