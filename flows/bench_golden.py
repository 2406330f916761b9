"""Benchmark of the golden model: tokens/s of the token-by-token and the vectorised path.

``python -m flows.bench_golden [--tokens 2048] [--repeat 3] [--threads 1] [--config F]
[--set k=v] [--json FILE]`` runs both paths of :mod:`sim.golden` on seeded uniform inputs
(q ∈ [0, 1], k, v ∈ [0, v_max]) at the configured head (defaults: d = 64, W = 1024), reports
the best of ``--repeat`` runs — wall-clock and process CPU time (on a shared machine the CPU
figure is the per-core rate) — and checks that both paths give the same counts.

BLAS threads are pinned to ``--threads`` (default 1: the figure is per core) through the
environment before numpy is imported, so run it as a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from hdl.cli import add_config_args
    ap = argparse.ArgumentParser(prog="python -m flows.bench_golden", description=__doc__
                                 .split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=2048, help="sequence length (default 2048)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per path, best kept")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="input seed")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    add_config_args(ap)
    return ap, ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    ap, args = _parse(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    from hdl.cli import config_from_args
    from sim.golden import run_token_by_token, run_vectorized

    cfg = config_from_args(ap, args)
    if args.tokens < 1 or args.repeat < 1:
        ap.error("--tokens and --repeat must be ≥ 1")
    rng = np.random.default_rng(args.seed)
    T, d, vmax = args.tokens, cfg.array.head_dim, cfg.analog.v_max_V
    q = rng.uniform(0, 1, (T, d))
    k = rng.uniform(0, vmax, (T, d))
    v = rng.uniform(0, vmax, (T, d))
    fig = {}
    res = {}
    for name, fn in (("vectorized", run_vectorized), ("token", run_token_by_token)):
        best = cpu = float("inf")
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            res[name] = fn(q, k, v, cfg)
            best = min(best, time.perf_counter() - t)
            cpu = min(cpu, time.process_time() - c)
        fig[name] = {"seconds": best, "tokens_per_s": T / best, "cpu_seconds": cpu,
                     "tokens_per_cpu_s": T / cpu}
    same = bool(np.array_equal(res["vectorized"].counts, res["token"].counts))
    report = {"tokens": T, "head_dim": d, "window": cfg.array.window, "blas_threads":
              args.threads, "config_hash": cfg.hash, "counts_agree": same, **fig}
    print(f"golden benchmark: T = {T}, d = {d}, W = {cfg.array.window}, "
          f"BLAS threads = {args.threads}, config {cfg.hash}")
    for name in ("token", "vectorized"):
        f = fig[name]
        print(f"  {name:11s} {f['tokens_per_s']:8.0f} tokens/s wall ({f['seconds']:.3f} s), "
              f"{f['tokens_per_cpu_s']:8.0f} tokens/s of CPU time ({f['cpu_seconds']:.3f} s)")
    print(f"  counts agree: {same}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
