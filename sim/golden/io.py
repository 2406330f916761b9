"""Inputs and outputs of the golden model: the result record, input and time checks, the
hardware's view of the inputs (through the codes) and of the tile charges (the counters), and
the ``IN.npz``/``OUT.npz`` files of the command line.  Shared by both paths."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analog_models.c2p import signed_c2p_normalized, signed_c2p_tiles
from analog_models.dac import code_to_volts, kv_code, pulse_fraction, query_code
from hdl.config import HeadConfig
from hdl.schedule import Schedule

from .outputs import OUTPUTS, Sink, window_to_dense

__all__ = ["GoldenResult", "INPUT_KEYS", "TIME_KEYS", "validate_inputs", "default_times",
           "validate_times", "run_checked", "hardware_codes", "hardware_input",
           "hardware_inputs", "tile_results", "load_inputs", "npz_path", "result_metadata",
           "save_result"]

#: Arrays of ``IN.npz``: required, then optional.
INPUT_KEYS = ("q", "k", "v")
TIME_KEYS = ("write_times_s", "read_times_s")


@dataclass
class GoldenResult:
    """Outputs of one head over T tokens (see :mod:`sim.golden` for units); an array not asked
    for is None.  ``layout``: of scores and activations, ``"window"`` (T, W) or ``"dense"``
    (T, T) (:mod:`.outputs`)."""

    scores: np.ndarray | None
    activations: np.ndarray | None
    tile_outputs: np.ndarray | None
    counts: np.ndarray | None
    out: np.ndarray | None
    layout: str = "window"

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays kept, by name."""
        return {n: a for n in OUTPUTS if (a := getattr(self, n)) is not None}

    def dense(self, name: str, window: int) -> np.ndarray:
        """``scores`` or ``activations`` in the dense layout (…, T, T), whatever the layout."""
        a = getattr(self, name)
        return a if self.layout == "dense" else window_to_dense(a, window)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def validate_inputs(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                    check_range: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check q, k, v ((T, d) or (B, T, d), finite, in range) and return them as float64.

    Raises ``ValueError`` naming the array and the problem.  With ``check_range=False``
    out-of-range values are allowed (the quantisers clip them, as after a scaler).
    """
    arrays, bounds = {}, {}
    for name, a in (("q", q), ("k", k), ("v", v)):
        a = np.asarray(a)
        if a.dtype.kind not in "iuf":
            raise ValueError(f"array {name!r} must hold real numbers, not dtype {a.dtype}")
        if a.ndim not in (2, 3):
            raise ValueError(f"array {name!r} must have shape (T, d) or (B, T, d), "
                             f"not {a.shape}")
        if a.shape[-1] != cfg.array.head_dim:
            raise ValueError(f"array {name!r} has head dimension {a.shape[-1]}, but "
                             f"array.head_dim is {cfg.array.head_dim}")
        if a.shape[-2] == 0 or (a.ndim == 3 and a.shape[0] == 0):
            raise ValueError(f"array {name!r} is empty (shape {a.shape})")
        a = a.astype(np.float64, copy=False)
        lo, hi = a.min(), a.max()      # two reductions (NaN and ±inf show in them) instead
        if not (np.isfinite(lo) and np.isfinite(hi)):      # of masks over every element
            raise ValueError(f"array {name!r} holds a non-finite value at index "
                             f"{_first_bad(~np.isfinite(a))}")
        arrays[name], bounds[name] = a, (lo, hi)
    shapes = {n: a.shape for n, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError("arrays 'q', 'k', 'v' must have the same shape, not "
                         + ", ".join(f"{n} {s}" for n, s in shapes.items()))
    if check_range:
        vmax = cfg.analog.v_max_V
        for name, hi, unit in (("q", 1.0, ""), ("k", vmax, " V"), ("v", vmax, " V")):
            a = arrays[name]
            if bounds[name][0] < 0.0 or bounds[name][1] > hi:
                idx = _first_bad((a < 0.0) | (a > hi))
                raise ValueError(f"array {name!r} must lie in [0, {hi:g}]{unit}, found "
                                 f"{a[idx]:g} at index {idx}")
    return arrays["q"], arrays["k"], arrays["v"]


def default_times(n_tokens: int, cfg: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """write_time[t] = read_time[t] = t·token_step_s (float64 seconds)."""
    t = np.arange(n_tokens) * Schedule(cfg).token_step_s
    return t, t.copy()


def validate_times(n_tokens: int, cfg: HeadConfig, write_times_s: np.ndarray | None,
                   read_times_s: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Default or check per-token write/read times: shape (T,), finite, non-decreasing,
    read ≥ write of the same token."""
    dw, dr = default_times(n_tokens, cfg)
    out = []
    for name, a, default in (("write_times_s", write_times_s, dw),
                             ("read_times_s", read_times_s, dr)):
        if a is None:
            out.append(default)
            continue
        a = np.asarray(a)
        if a.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers, not dtype {a.dtype}")
        if a.shape != (n_tokens,):
            raise ValueError(f"{name} must have shape ({n_tokens},) (one per token), "
                             f"not {a.shape}")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds a non-finite value at index "
                             f"{_first_bad(~np.isfinite(a))[0]}")
        dec = np.diff(a) < 0
        if dec.any():
            i = int(np.argmax(dec)) + 1
            raise ValueError(f"{name} must be non-decreasing, but {name}[{i}] = {a[i]:g} < "
                             f"{name}[{i - 1}] = {a[i - 1]:g}")
        out.append(a)
    w, r = out
    early = r < w
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(f"read_times_s[{i}] = {r[i]:g} is before write_times_s[{i}] = "
                         f"{w[i]:g}: a token is read after its own write")
    return w, r


def run_checked(path: Callable[..., None], q: np.ndarray, k: np.ndarray, v: np.ndarray,
                cfg: HeadConfig, write_times_s: np.ndarray | None,
                read_times_s: np.ndarray | None, check_range: bool, *,
                outputs: tuple[str, ...] = OUTPUTS, layout: str = "window",
                sink: Sink | None = None, **kwargs) -> GoldenResult | None:
    """Check q, k, v and the times, then ``path(q, k, v, cfg, w, r, rows, **kwargs)`` on each
    (T, d) sequence, writing into ``sink`` (default: a new in-memory :class:`~.outputs.Sink`
    of ``outputs`` in ``layout``, whose result is returned; with a given sink, None)."""
    q, k, v = validate_inputs(q, k, v, cfg, check_range=check_range)
    w, r = validate_times(q.shape[-2], cfg, write_times_s, read_times_s)
    mine = sink is None
    if mine:
        sink = Sink(q.shape[-2], cfg, outputs=outputs, layout=layout,
                    batch=None if q.ndim == 2 else q.shape[0])
    if q.ndim == 2:
        path(q, k, v, cfg, w, r, sink.rows(), **kwargs)
    else:
        for b in range(q.shape[0]):
            path(q[b], k[b], v[b], cfg, w, r, sink.rows(b), **kwargs)
    return sink.result() if mine else None


# ---------------------------------------------------------------------------------------------
# the hardware's view: inputs through the codes, tile charges through the counters
# ---------------------------------------------------------------------------------------------
def hardware_codes(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The query's PWM codes and the K and V DAC codes of the inputs (with quantization)."""
    return query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg)


def hardware_input(name: str, a: np.ndarray, cfg: HeadConfig,
                   code: np.ndarray | None = None) -> np.ndarray:
    """One input as the hardware sees it: the pulse fractions of ``q`` (``name`` "q") or the
    stored voltages of ``k`` or ``v``, through the codes (:func:`hardware_codes`, or ``code``
    if at hand); with quantization off the values clipped to their ranges."""
    if cfg.analog.quantization:
        if name == "q":
            return pulse_fraction(query_code(a, cfg) if code is None else code, cfg)
        return code_to_volts(kv_code(a, cfg) if code is None else code, cfg)
    return np.clip(a, 0.0, 1.0 if name == "q" else cfg.analog.v_max_V)


def hardware_inputs(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                    codes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hardware_input` of q, k and v (``codes``: their :func:`hardware_codes`, if at
    hand)."""
    return tuple(hardware_input(name, a, cfg, None if codes is None else codes[i])
                 for i, (name, a) in enumerate((("q", q), ("k", k), ("v", v))))


def tile_results(charges: np.ndarray, cfg: HeadConfig, values: np.ndarray | None = None, *,
                 into: dict[str, np.ndarray | None] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tile_outputs, counts, out) from the per-tile V-array charges O (…, n_tiles, d);
    ``values``: the counters' ±count for these charges, when already known; ``into``: arrays
    to write ``tile_outputs`` and (quantised) ``counts`` into (an output's rows, in place)."""
    into = into or {}
    if cfg.analog.quantization and values is None:    # the C2P, counts and sum in one pass
        return signed_c2p_tiles(charges, cfg, tile_out=into.get("tile_outputs"),
                                value=into.get("counts"))
    tile_out = signed_c2p_normalized(charges, cfg, out=into.get("tile_outputs"))
    counts = values if cfg.analog.quantization else tile_out * cfg.array.count_max
    return tile_out, counts, counts.sum(axis=-2)


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def load_inputs(path: str | Path) -> dict[str, np.ndarray]:
    """Read IN.npz: q, k, v (required), write_times_s, read_times_s (optional)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise ValueError(f"inputs file {str(p)!r} does not exist") from None
    except OSError as e:
        raise ValueError(f"inputs file {str(p)!r} cannot be read ({e.strerror})") from None
    if not magic:
        raise ValueError(f"inputs file {str(p)!r} is empty (0 bytes), not an .npz archive "
                         f"with arrays q, k, v")
    if not magic.startswith((b"PK\x03\x04", b"\x93NUMPY")):
        raise ValueError(f"inputs file {str(p)!r} is not an .npz archive (it does not start "
                         f"like one: a text or other file?); write it with numpy.savez")
    with open(p, "rb") as fh:
        try:
            npz = np.load(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"inputs file {str(p)!r} is not a readable .npz archive "
                             f"({e})") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(f"inputs file {str(p)!r} is a single .npy array, not an .npz "
                             f"archive with arrays q, k, v")
        with npz:
            return _read_arrays(npz, p)


def _read_arrays(npz, p: Path) -> dict[str, np.ndarray]:
    names = list(npz.files)
    unknown = [n for n in names if n not in INPUT_KEYS + TIME_KEYS]
    if unknown:
        raise ValueError(f"inputs file {str(p)!r} has unexpected array(s) "
                         f"{', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(INPUT_KEYS + TIME_KEYS)}")
    missing = [n for n in INPUT_KEYS if n not in names]
    if missing:
        raise ValueError(f"inputs file {str(p)!r} lacks array(s) "
                         f"{', '.join(map(repr, missing))} (found: "
                         f"{', '.join(names) or 'none'})")
    data = {}
    for n in names:
        try:
            data[n] = npz[n]
        except ValueError as e:   # object arrays need pickle: refused
            raise ValueError(f"array {n!r} in {str(p)!r} cannot be read without pickle "
                             f"(object dtype?): {e}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"array {n!r} in {str(p)!r} is damaged ({e})") from None
    return data


def npz_path(path: str | Path) -> Path:
    """``path`` with ``.npz`` appended when missing (as :func:`numpy.savez` does)."""
    out = Path(path)
    return out if out.suffix == ".npz" else out.with_name(out.name + ".npz")


def result_metadata(cfg: HeadConfig, layout: str) -> dict[str, np.ndarray]:
    """The arrays OUT.npz carries beside the outputs: ``config_json``, ``layout`` of scores and
    activations (``window``: (T, W) ring order; ``dense``: (T, T)) and ``window`` (W)."""
    return {"config_json": np.array(cfg.to_json()), "layout": np.array(layout),
            "window": np.array(cfg.array.window)}


def save_result(path: str | Path, result: GoldenResult, cfg: HeadConfig) -> Path:
    """Write OUT.npz: the result's arrays and :func:`result_metadata`; returns the path
    written."""
    out = npz_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **result.arrays(), **result_metadata(cfg, result.layout))
    return out
