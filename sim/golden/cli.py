"""``python -m sim.golden`` (entry point ``gca-golden``): the golden model over an IN.npz.

``python -m sim.golden --inputs IN.npz --out OUT.npz [--config F] [--set k=v] [--ideal LIST]
[--method vectorized|token] [--outputs LIST] [--dense] [--threads N] [--workers N]``. The
outputs stream to disk block by block (:class:`.outputs.StreamSink`): memory stays bounded
whatever T is; scores and activations are (T, W) in window (ring) order unless ``--dense`` asks
for (T, T), and ``OUT.npz`` says which (``layout``, ``window``). Follows :mod:`hdl.cli`: a bad
option, input file or output path is one line ``python -m sim.golden: error: …`` and exit 2,
found before the model runs. The matrix products run on ``--threads`` BLAS threads (default 1:
at these sizes more threads are slower, ``python -m flows.bench_golden --threads 2`` shows it);
the vectorised path's blocks of queries run on ``--workers`` threads (default 1), with the same
outputs bit for bit (``python -m flows.bench_golden --workers 2`` measures the scaling).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from threadpoolctl import threadpool_limits

from hdl.cli import (
    Parser,
    add_config_args,
    config_from_args,
    positive_int,
    run_cli,
    writable_file,
)
from hdl.config import NON_IDEALITIES, HeadConfig

from .io import load_inputs, result_metadata, validate_inputs, validate_times
from .methods import METHODS, run
from .outputs import OUTPUTS, StreamSink, parse_outputs

__all__ = ["main"]

log = logging.getLogger(__name__)


def _build_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="python -m sim.golden",
        description="Bit-true golden model of one gain-cell attention head. IN.npz holds q "
                    "(T, d) in [0, 1] and k, v (T, d) in volts [0, v_max] (post-scaler), or "
                    "the same with a leading batch axis, and optionally write_times_s, "
                    "read_times_s (T,). OUT.npz gets the --outputs arrays, config_json, "
                    "layout and window.")
    ap.add_argument("--inputs", required=True, metavar="IN.npz", help="input arrays")
    ap.add_argument("--out", required=True, metavar="OUT.npz", help="output file")
    add_config_args(ap)
    ap.add_argument("--ideal", metavar="LIST", default="",
                    help="comma-separated non-idealities to switch off: "
                         + ", ".join(NON_IDEALITIES))
    ap.add_argument("--method", choices=tuple(METHODS), default="vectorized",
                    help="whole-sequence (default) or token-by-token path")
    ap.add_argument("--outputs", metavar="LIST", default=",".join(OUTPUTS),
                    help="comma-separated arrays to write (default all): " + ", ".join(OUTPUTS))
    ap.add_argument("--dense", action="store_true",
                    help="scores and activations as dense (T, T) rows (O(T²)) instead of "
                         "(T, W) in window order")
    ap.add_argument("--threads", type=positive_int, default=1,
                    help="BLAS threads of the matrix products (default 1: at these sizes more "
                         "are slower)")
    ap.add_argument("--workers", type=positive_int, default=1,
                    help="threads the vectorised path's blocks of queries run on (default 1; "
                         "the same outputs bit for bit with any number)")
    return ap


def _golden(args: argparse.Namespace, cfg: HeadConfig, outputs: tuple[str, ...]) -> int:
    out = writable_file(args.out, suffix=".npz")
    data = load_inputs(args.inputs)
    q, _, _ = validate_inputs(data["q"], data["k"], data["v"], cfg)
    T = q.shape[-2]
    validate_times(T, cfg, data.get("write_times_s"), data.get("read_times_s"))
    batch = f"{q.shape[0]} × " if q.ndim == 3 else ""
    log.info("%s path, %s%d tokens, config %s, %d BLAS thread(s), %d worker(s)", args.method,
             batch, T, cfg.hash, args.threads, args.workers)
    layout = "dense" if args.dense else "window"
    sink = StreamSink(out, T, cfg, outputs=outputs, layout=layout,
                      batch=q.shape[0] if q.ndim == 3 else None)
    try:
        with threadpool_limits(limits=args.threads, user_api="blas"):
            run(data["q"], data["k"], data["v"], cfg, method=args.method,
                write_times_s=data.get("write_times_s"), read_times_s=data.get("read_times_s"),
                sink=sink, **({"workers": args.workers} if args.method == "vectorized" else {}))
    except BaseException:
        sink.abort()
        raise
    out = sink.close(result_metadata(cfg, layout))
    print(f"sim.golden: {T} tokens, config {cfg.hash}, wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = _build_parser()
    args = ap.parse_args(argv)
    cfg = config_from_args(ap, args)
    try:
        outputs = parse_outputs(args.outputs)
    except ValueError as e:
        ap.error(f"--outputs: {e}")
    if args.workers > 1 and args.method != "vectorized":
        ap.error(f"--workers {args.workers}: only the vectorized method runs blocks in "
                 f"parallel (the token path is one token after another)")
    names = [n.strip() for n in args.ideal.split(",") if n.strip()]
    try:
        cfg = dataclasses.replace(cfg, analog=cfg.analog.ideal(*names))
    except ValueError as e:
        ap.error(f"--ideal: {e}")
    return run_cli(ap.prog, lambda: _golden(args, cfg, outputs))


if __name__ == "__main__":
    sys.exit(main())
