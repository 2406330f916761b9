"""The JSON summary of a prototype run (board or simulated board), in the co-simulation's terms:
tokens, outputs, mismatches against the twin reference, agreement with the golden model, link
errors, tokens/s."""

from __future__ import annotations

import numpy as np

from analog_models.dac import kv_code, query_code
from hdl.config import HeadConfig
from sim.golden import run as golden_run
from sim.twin import run_twin, twin_config

from .host import HostSession

__all__ = ["codes_of", "summarise"]


def codes_of(cfg: HeadConfig, q: np.ndarray, k: np.ndarray, v: np.ndarray):
    """Float tokens → the integer codes the head receives (the golden model's quantisers)."""
    return query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg)


def summarise(cfg: HeadConfig, floats: tuple[np.ndarray, np.ndarray, np.ndarray],
              session: HostSession, wall_s: float, **extra) -> dict:
    q, k, v = codes_of(cfg, *floats)
    values, _ = run_twin(cfg, q, k, v)
    expect = values.sum(axis=1)
    got_idx = [i for i, o in enumerate(session.outputs) if o is not None]
    got = np.array([session.outputs[i] for i in got_idx]).reshape(-1, cfg.array.head_dim)
    bad = [i for j, i in enumerate(got_idx) if not np.array_equal(got[j], expect[i])]
    golden = golden_run(*floats, twin_config(cfg)).out[got_idx]
    diff = np.abs(got - golden) if len(got_idx) else np.zeros((0,))
    e = session.errors
    return {
        "tokens": session.n_tokens,
        "outputs": len(got_idx),
        "outputs_missing": session.n_tokens - len(got_idx),
        "mismatches": len(bad),
        "first_mismatch": None if not bad else {
            "token": bad[0], "got": session.outputs[bad[0]].tolist(),
            "expected": expect[bad[0]].tolist()},
        "golden_equal_fraction": float((diff == 0).mean()) if diff.size else None,
        "golden_max_abs_diff": int(diff.max()) if diff.size else None,
        "link_errors_host": {"bad_frames": e.bad_frames, "naks": e.naks, "resends": e.resends,
                             "timeouts": e.timeouts, "mixed_up": e.mixed_up,
                             "duplicated": e.duplicated, "lost_outputs": e.lost_outputs},
        "credit_waits": session.credit_waits,
        "board_status": session.status,
        "wall_s": round(wall_s, 3),
        "tokens_per_s": len(got_idx) / wall_s if wall_s > 0 else None,
        "config_hash": cfg.hash,
        **extra,
    }
