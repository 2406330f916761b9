"""Does a config fit a board, and which is the largest that does.

nextpnr does not stop on over-use (it loops in the placer, DESIGN.md §7), so a board build
checks the synthesised netlist first: :func:`estimate` turns Yosys's cell counts into the
device's resources (:class:`flows.fpga.boards.Resource`), :func:`verdict` says whether each is
within its limit.  :func:`fit_search` walks :func:`candidates` — the requested config and
smaller ones, largest first — with any estimator (the build uses a cached synthesis; tests a
model), and returns the first that fits.
"""

from __future__ import annotations

from typing import Callable, Iterable

from hdl.config import HeadConfig

from .boards import Resource

__all__ = ["estimate", "verdict", "candidates", "fit_search", "DoesNotFit"]


class DoesNotFit(ValueError):
    """The config's estimated use exceeds the board (the message says which resource)."""


def estimate(resources: Iterable[Resource], cells: dict[str, int]) -> dict[str, dict]:
    """Yosys cell counts (type → count) → resource → {used, available, limit}."""
    out = {}
    for r in resources:
        used = sum(w * n for prefix, w in r.cells for t, n in cells.items()
                   if t.startswith(prefix))
        out[r.name] = {"used": round(used), "available": r.available, "limit": r.limit}
    return out


def verdict(use: dict[str, dict]) -> list[str]:
    """The resources over their limit, each as a phrase (empty: it fits)."""
    return [f"{name} {u['used']:,} > {u['limit']:.0%} of {u['available']:,}"
            for name, u in use.items() if u["used"] > u["limit"] * u["available"]]


def _size(cfg: HeadConfig) -> tuple[int, int]:
    a = cfg.array
    return a.window * a.head_dim, a.head_dim


def candidates(cfg: HeadConfig) -> list[HeadConfig]:
    """``cfg`` and the configs below it — n_tiles, tile_cols and head_dim each halved down to
    the iCEBreaker's prototype scale (2 tiles, 8 columns, d = 4) — largest array first (cells
    W·d, then d), no two of the same shape."""
    a = cfg.array
    def halvings(x: int, lo: int) -> list[int]:
        out = [x]
        while out[-1] // 2 >= lo:
            out.append(out[-1] // 2)
        return out
    seen, out = set(), []
    for d in halvings(a.head_dim, min(4, a.head_dim)):
        for c in halvings(a.tile_cols, min(8, a.tile_cols)):
            for n in halvings(a.n_tiles, min(2, a.n_tiles)):
                if (d, c, n) in seen:
                    continue
                seen.add((d, c, n))
                out.append(cfg.with_overrides([f"array.head_dim={d}", f"array.tile_cols={c}",
                                               f"array.n_tiles={n}"]))
    return sorted(out, key=_size, reverse=True)


def fit_search(configs: Iterable[HeadConfig],
               use_of: Callable[[HeadConfig], dict[str, dict]]) -> tuple[HeadConfig, list]:
    """The first of ``configs`` whose estimated use (``use_of``) fits; (config, [(config hash,
    the resources over their limit) for each tried])."""
    tried = []
    for cfg in configs:
        over = verdict(use_of(cfg))
        tried.append((cfg.hash, over))
        if not over:
            return cfg, tried
    raise DoesNotFit("no config fits: " + "; ".join(f"{h}: {', '.join(o)}" for h, o in tried))
