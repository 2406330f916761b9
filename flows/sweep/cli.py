"""``python -m flows.sweep SPEC.toml|json [--workers N] [--scheduler tcp://HOST:PORT]
[--out DIR] [--cache DIR]``: run a design-space sweep (see :mod:`flows.sweep`)."""

from __future__ import annotations

import argparse
import os
import sys

from hdl.cli import Parser, UsageError, positive_int, run_cli, writable_dir

from .executor import check_scheduler
from .points import expand
from .spec import load_spec
from .store import DEFAULT_CACHE

__all__ = ["main"]

PROG = "python -m flows.sweep"


def _body(args: argparse.Namespace) -> int:
    from ..tools import BUILD
    from .run import run_sweep

    if args.scheduler is not None:
        if args.workers is not None:
            raise UsageError("--workers has no effect with --scheduler: the cluster's "
                             "workers run the points (start more with `dask worker`)")
        check_scheduler(args.scheduler)
    spec = load_spec(args.spec)
    expand(spec)  # an axis value that no point can use is a bad spec: said before any work
    out = writable_dir(args.out if args.out is not None else BUILD / "sweep" / spec.name)
    cache = writable_dir(args.cache, "--cache")
    workers = args.workers or os.cpu_count() or 1
    res = run_sweep(spec, out, workers=workers, scheduler=args.scheduler, cache_root=cache)
    print(f"{len(res.rows)} points: {res.computed} computed, {res.cached} from the cache, "
          f"{res.failed} failed, {res.wall_s:.1f} s ({res.executor or 'nothing to run'})")
    for what, path in res.files.items():
        print(f"{what}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog=PROG, description="Design-space sweep: accuracy, synthesis and PPA over a "
                "grid of configurations, on a local process pool or a Dask cluster.")
    ap.add_argument("spec", help="sweep specification (.toml or .json; see flows/sweep/spec.py)")
    ap.add_argument("--workers", type=positive_int, default=None,
                    help="local worker processes (default: the number of CPUs)")
    ap.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                    help="run on a Dask cluster through its scheduler instead of locally")
    ap.add_argument("--out", default=None,
                    help="output folder (default build/sweep/<spec name>)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE),
                    help=f"measure cache, shared by sweeps (default {DEFAULT_CACHE})")
    args = ap.parse_args(argv)
    return run_cli(PROG, lambda: _body(args))


if __name__ == "__main__":
    sys.exit(main())
