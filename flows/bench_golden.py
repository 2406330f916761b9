"""Benchmark of the golden model: tokens/s of the token-by-token and the vectorised path.

``python -m flows.bench_golden [--tokens 2048] [--repeat 3] [--threads 1] [--outputs LIST]
[--dense] [--config F] [--set k=v] [--json FILE]`` runs both paths of :mod:`sim.golden` on the
seeded token stream of :func:`sim.stimuli.random_tokens` (q ∈ [0, 1], k, v ∈ [0, v_max]) at
the configured head (defaults: d = 64, W = 1024, every output in the window layout), reports the
best of ``--repeat`` runs — wall-clock and process CPU time (on a shared machine the CPU figure
is the per-core rate) — the peak memory a run allocates (``tracemalloc``, numpy's buffers
included), the process's peak RSS, and the ratio vectorised / token path (a figure that survives
a noisy machine), and checks that both paths give the same counts (exit 1 when they do not).

BLAS threads are pinned to ``--threads`` (default 1: the figure is per core) through the
environment before numpy is imported, so run it as a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from hdl.cli import (
    Parser,
    RunFailed,
    UsageError,
    add_config_args,
    config_from_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_file,
)

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="python -m flows.bench_golden",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=positive_int, default=2048,
                    help="sequence length (default 2048)")
    ap.add_argument("--repeat", type=positive_int, default=3, help="runs per path, best kept")
    ap.add_argument("--threads", type=positive_int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--seed", type=nonnegative_int, default=0, help="input seed")
    ap.add_argument("--outputs", metavar="LIST", default="scores,activations,tile_outputs,"
                    "counts,out", help="arrays kept (sim.golden --outputs; counts always)")
    ap.add_argument("--dense", action="store_true", help="dense (T, T) scores/activations")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    add_config_args(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    cfg = config_from_args(ap, args)

    def body() -> int:
        json_out = writable_file(args.json, "--json") if args.json else None
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        import resource
        import tracemalloc

        import numpy as np

        from sim.golden import run_token_by_token, run_vectorized
        from sim.golden.outputs import parse_outputs
        from sim.stimuli import random_tokens

        try:
            outputs = parse_outputs(args.outputs + ",counts")
        except ValueError as e:
            raise UsageError(f"--outputs: {e}") from None
        layout = "dense" if args.dense else "window"
        T, d = args.tokens, cfg.array.head_dim
        q, k, v = random_tokens(cfg, T, args.seed)
        fig = {}
        res = {}
        for name, fn in (("vectorized", run_vectorized), ("token", run_token_by_token)):
            best = cpu = float("inf")
            for _ in range(args.repeat):
                res[name] = None
                t, c = time.perf_counter(), time.process_time()
                res[name] = fn(q, k, v, cfg, outputs=outputs, layout=layout)
                best = min(best, time.perf_counter() - t)
                cpu = min(cpu, time.process_time() - c)
            res[name] = None
            tracemalloc.start()
            res[name] = fn(q, k, v, cfg, outputs=outputs, layout=layout)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            fig[name] = {"seconds": best, "tokens_per_s": T / best, "cpu_seconds": cpu,
                         "tokens_per_cpu_s": T / cpu, "peak_alloc_MiB": peak / 2**20}
        same = bool(np.array_equal(res["vectorized"].counts, res["token"].counts))
        ratio = {"wall": fig["vectorized"]["tokens_per_s"] / fig["token"]["tokens_per_s"],
                 "cpu": fig["vectorized"]["tokens_per_cpu_s"] / fig["token"]["tokens_per_cpu_s"]}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = {"tokens": T, "head_dim": d, "window": cfg.array.window, "blas_threads":
                  args.threads, "outputs": list(outputs), "layout": layout,
                  "config_hash": cfg.hash, "counts_agree": same, **fig,
                  "ratio_vectorized_over_token": ratio, "peak_rss_MiB": rss}
        print(f"golden benchmark: T = {T}, d = {d}, W = {cfg.array.window}, "
              f"BLAS threads = {args.threads}, {layout} layout of {','.join(outputs)}, "
              f"config {cfg.hash}")
        for name in ("token", "vectorized"):
            f = fig[name]
            print(f"  {name:11s} {f['tokens_per_s']:8.0f} tokens/s wall ({f['seconds']:.3f} s), "
                  f"{f['tokens_per_cpu_s']:8.0f} tokens/s of CPU time ({f['cpu_seconds']:.3f} s), "
                  f"peak {f['peak_alloc_MiB']:.0f} MiB allocated")
        print(f"  vectorized / token: {ratio['wall']:.2f}× wall, {ratio['cpu']:.2f}× CPU; "
              f"peak RSS {rss:.0f} MiB; counts agree: {same}")
        if json_out is not None:
            with open(json_out, "w") as f:
                json.dump(report, f, indent=2)
        if not same:
            raise RunFailed("the token-by-token and vectorised paths gave different counts")
        return 0

    return run_cli(ap.prog, body)


if __name__ == "__main__":
    sys.exit(main())
