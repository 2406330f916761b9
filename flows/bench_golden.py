"""Benchmark of the golden model: tokens/s of the token-by-token and the vectorised path.

``python -m flows.bench_golden [--tokens 2048] [--repeat 3] [--threads 1] [--workers 1]
[--outputs LIST] [--dense] [--config F] [--set k=v] [--json FILE]`` runs both paths of
:mod:`sim.golden` on the seeded token stream of :func:`sim.stimuli.random_tokens` (q ∈ [0, 1],
k, v ∈ [0, v_max]) at the configured head (defaults: d = 64, W = 1024, every output in the
window layout), ``--repeat`` runs of each, the two paths alternating (so a load change hits
both), and reports the best and the median run — wall-clock and process CPU time (on a shared
machine the CPU figure is the per-core rate; the best run is the one least disturbed, the median
says how noisy it was) —, where one more vectorised run spends its time (seconds per step of
:data:`sim.golden.vectorized.STEPS`: the two matrix products bound it), the peak memory a run
allocates (``tracemalloc``, numpy's buffers included), the process's peak RSS, the ratio
vectorised / token path (a figure that survives a noisy machine), and the machine's matrix
product rate in the same runs (a float64 :data:`GEMM_N`³ product after each round, best and
median GFLOP/s: on a shared machine it swings ~2× within minutes, and the vectorised path, bound
by its two products, with it), and checks that both paths give the same counts (exit 1 when they
do not).

With ``--workers N`` (N > 1) the vectorised path also runs on N threads, in the same
alternation: its figures, its scaling over one worker, and whether its outputs equal one
worker's bit for bit (exit 1 when not).

BLAS threads are pinned to ``--threads`` (default 1: the figure is per core) through the
environment before numpy is imported, so run it as a fresh process.
"""

from __future__ import annotations

import argparse
import functools
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
from flows.tools import blas_threads_env

__all__ = ["main", "build_parser", "GEMM_N"]

#: Size of the square float64 matrix product that measures the machine's rate (2·N³ flops).
GEMM_N = 1024


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="python -m flows.bench_golden",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=positive_int, default=2048,
                    help="sequence length (default 2048)")
    ap.add_argument("--repeat", type=positive_int, default=5,
                    help="runs per path, alternating (default 5): best and median reported")
    ap.add_argument("--threads", type=positive_int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--workers", type=positive_int, default=1,
                    help="also run the vectorised path on this many threads (default 1: not) "
                         "and report its scaling")
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
        os.environ.update(blas_threads_env(args.threads))
        import resource
        import tracemalloc

        import numpy as np

        from sim.golden import run_token_by_token, run_vectorized
        from sim.golden.vectorized import STEPS
        from sim.golden.outputs import parse_outputs
        from sim.stimuli import random_tokens

        try:
            outputs = parse_outputs(args.outputs + ",counts")
        except ValueError as e:
            raise UsageError(f"--outputs: {e}") from None
        layout = "dense" if args.dense else "window"
        T, d = args.tokens, cfg.array.head_dim
        q, k, v = random_tokens(cfg, T, args.seed)
        paths = {"vectorized": run_vectorized, "token": run_token_by_token}
        if args.workers > 1:
            paths["vectorized_workers"] = functools.partial(run_vectorized,
                                                            workers=args.workers)
        res: dict = dict.fromkeys(paths)
        runs: dict = {name: ([], []) for name in paths}      # (wall, CPU) seconds per run
        gemm_s: list[float] = []                              # the machine's product, per round
        a = np.random.default_rng(0).random((GEMM_N, GEMM_N))
        for _ in range(args.repeat):
            for name, fn in paths.items():
                res[name] = None
                t, c = time.perf_counter(), time.process_time()
                res[name] = fn(q, k, v, cfg, outputs=outputs, layout=layout)
                runs[name][0].append(time.perf_counter() - t)
                runs[name][1].append(time.process_time() - c)
            t = time.perf_counter()
            a @ a
            gemm_s.append(time.perf_counter() - t)
        gemm = {"n": GEMM_N, "gflops": 2 * GEMM_N**3 / min(gemm_s) / 1e9,
                "gflops_median": 2 * GEMM_N**3 / float(np.median(gemm_s)) / 1e9}
        profile: dict[str, float] = {}       # one more vectorised run: where its time goes
        res["vectorized"] = None
        run_vectorized(q, k, v, cfg, outputs=outputs, layout=layout, profile=profile)
        fig = {}
        for name, fn in paths.items():
            res[name] = None
            tracemalloc.start()
            res[name] = fn(q, k, v, cfg, outputs=outputs, layout=layout)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            wall, cpu = runs[name]
            fig[name] = {**_figures(T, min(wall), min(cpu)), "peak_alloc_MiB": peak / 2**20,
                         "median": _figures(T, float(np.median(wall)), float(np.median(cpu))),
                         "runs_seconds": wall, "runs_cpu_seconds": cpu}
        same = bool(np.array_equal(res["vectorized"].counts, res["token"].counts))
        if args.workers > 1:      # the same bits on any number of threads
            same_workers = all(_same_bits(getattr(res["vectorized"], n),
                                          getattr(res["vectorized_workers"], n))
                               for n in outputs)
        vec, tok = fig["vectorized"], fig["token"]
        vec["profile_seconds"] = {step: profile.get(step, 0.0) for step in STEPS}
        ratio = {"wall": vec["tokens_per_s"] / tok["tokens_per_s"],
                 "cpu": vec["tokens_per_cpu_s"] / tok["tokens_per_cpu_s"],
                 "wall_median": vec["median"]["tokens_per_s"] / tok["median"]["tokens_per_s"],
                 "cpu_median": (vec["median"]["tokens_per_cpu_s"]
                                / tok["median"]["tokens_per_cpu_s"])}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = {"tokens": T, "head_dim": d, "window": cfg.array.window, "blas_threads":
                  args.threads, "repeats": args.repeat, "outputs": list(outputs),
                  "layout": layout,
                  "config_hash": cfg.hash, "counts_agree": same, **fig,
                  "ratio_vectorized_over_token": ratio, "peak_rss_MiB": rss,
                  "machine_gemm": gemm}
        if args.workers > 1:
            wk = fig["vectorized_workers"]
            report["workers"] = args.workers
            report["workers_scaling"] = {
                "wall": wk["tokens_per_s"] / vec["tokens_per_s"],
                "wall_median": wk["median"]["tokens_per_s"] / vec["median"]["tokens_per_s"]}
            report["workers_identical"] = same_workers
        print(f"golden benchmark: T = {T}, d = {d}, W = {cfg.array.window}, "
              f"BLAS threads = {args.threads}, {layout} layout of {','.join(outputs)}, "
              f"config {cfg.hash}")
        print(f"  best (median) of {args.repeat} runs each, alternating")
        for name in fig:
            f, m = fig[name], fig[name]["median"]
            label = f"vectorized ×{args.workers}" if name == "vectorized_workers" else name
            print(f"  {label:14s} {f['tokens_per_s']:8.0f} ({m['tokens_per_s']:.0f}) tokens/s wall "
                  f"({f['seconds']:.3f} s), {f['tokens_per_cpu_s']:8.0f} "
                  f"({m['tokens_per_cpu_s']:.0f}) tokens/s of CPU time "
                  f"({f['cpu_seconds']:.3f} s), peak {f['peak_alloc_MiB']:.0f} MiB allocated")
        total = sum(vec["profile_seconds"].values()) or 1.0
        print("  vectorised run's steps: " + ", ".join(
            f"{step} {sec / total:.0%}" for step, sec in vec["profile_seconds"].items()))
        print(f"  vectorized / token: {ratio['wall']:.2f}× wall, {ratio['cpu']:.2f}× CPU "
              f"(medians {ratio['wall_median']:.2f}×, {ratio['cpu_median']:.2f}×); "
              f"peak RSS {rss:.0f} MiB; counts agree: {same}")
        print(f"  machine: float64 {GEMM_N}³ matrix product {gemm['gflops']:.1f} "
              f"({gemm['gflops_median']:.1f}) GFLOP/s on {args.threads} BLAS thread(s), "
              f"between the rounds")
        if args.workers > 1:
            sc = report["workers_scaling"]
            print(f"  {args.workers} workers / 1: {sc['wall']:.2f}× wall (median "
                  f"{sc['wall_median']:.2f}×); the same outputs bit for bit: {same_workers}")
        if json_out is not None:
            with open(json_out, "w") as f:
                json.dump(report, f, indent=2)
        if not same:
            raise RunFailed("the token-by-token and vectorised paths gave different counts")
        if args.workers > 1 and not same_workers:
            raise RunFailed(f"the vectorised path on {args.workers} workers gave outputs "
                            f"different from one worker's")
        return 0

    return run_cli(ap.prog, body)


def _same_bits(a, b) -> bool:
    """Equal arrays, float64 compared bit for bit."""
    import numpy as np
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a.view(np.uint64), b.view(np.uint64)) if a.dtype == np.float64
                else np.array_equal(a, b))


def _figures(tokens: int, wall_s: float, cpu_s: float) -> dict[str, float]:
    return {"seconds": wall_s, "tokens_per_s": tokens / wall_s, "cpu_seconds": cpu_s,
            "tokens_per_cpu_s": tokens / max(cpu_s, 1e-9)}


if __name__ == "__main__":
    sys.exit(main())
