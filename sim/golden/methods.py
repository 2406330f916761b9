"""The golden model's two paths by name (the ``--method`` of the command line)."""

from __future__ import annotations

import numpy as np

from hdl.config import HeadConfig

from .io import GoldenResult
from .token import run_token_by_token
from .vectorized import run_vectorized

__all__ = ["METHODS", "run"]

#: Path name → function.
METHODS = {"vectorized": run_vectorized, "token": run_token_by_token}


def run(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
        method: str = "vectorized", **kwargs) -> GoldenResult:
    """Run the golden model by ``method`` ("vectorized" or "token")."""
    if method not in METHODS:
        raise ValueError(f"method must be {' or '.join(map(repr, METHODS))}, not {method!r}")
    return METHODS[method](q, k, v, cfg, **kwargs)
