"""The points of a sweep: every combination of the axes' values, times every seed.

A point whose combination is not a valid config (e.g. ``array.q_bits`` above
``array.count_bits``) is kept, with the reason, and becomes a failed row of the table; an axis
value that makes *every* point holding it invalid is a bad spec instead (:class:`SpecError`),
so a typo such as ``head_dim = 3`` stops the sweep before any work.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hdl.config import HeadConfig

from ..ppa.energy import scale_config
from .spec import SpecError, SweepSpec

__all__ = ["Point", "expand", "point_config"]


@dataclass(frozen=True)
class Point:
    """One point: its index, the axis values that make it, its seed and config (or the reason
    there is none)."""

    index: int
    values: dict[str, Any]
    seed: int
    config: HeadConfig | None
    invalid: str | None = None

    def label(self) -> str:
        parts = [f"{k.split('.', 1)[1]}={v}" for k, v in self.values.items()]
        return ", ".join(parts + [f"seed={self.seed}"])


def point_config(base: HeadConfig, values: dict[str, Any]) -> HeadConfig:
    """``base`` with the axis ``values`` set; ``ValueError`` naming the field when invalid."""
    data = base.to_dict()
    window = None
    for name, v in values.items():
        if name == "array.window":
            window = v
            continue
        section, fld = name.split(".", 1)
        data[section][fld] = v
    cfg = HeadConfig.from_dict(data)
    if window is not None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"array.window must be a positive integer, not {window!r}")
        cfg = scale_config(cfg, window=window)  # window = n_tiles × tile_cols
    return cfg


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of ``spec``, in grid order (the last axis varies fastest, then the seed)."""
    names = list(spec.axes)
    combos = list(itertools.product(*(spec.axes[n] for n in names)))
    built: list[tuple[dict[str, Any], HeadConfig | None, str | None]] = []
    for combo in combos:
        values = dict(zip(names, combo))
        try:
            built.append((values, point_config(spec.base, values), None))
        except ValueError as e:
            built.append((values, None, str(e)))
    for name in names:
        for v in spec.axes[name]:
            held = [b for b in built if b[0][name] == v]
            if all(b[1] is None for b in held):
                raise SpecError(f"spec {spec.source!r}: axes.{name} = {v!r} gives no valid "
                                f"config: {held[0][2]}")
    points = []
    for values, cfg, why in built:
        for seed in spec.seeds:
            points.append(Point(len(points), values, seed, cfg, why))
    return points
