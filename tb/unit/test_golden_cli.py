"""Command lines: sim.golden (inputs, outputs, every bad input), sim.evaluate, bench."""

import json
import threading

import numpy as np
import pytest

from hdl.config import HeadConfig
from sim import golden
from sim.golden import run_vectorized
from sim.golden.vectorized import STEPS

SETS = ["--set", "array.head_dim=8", "--set", "array.tile_cols=4", "--set", "array.n_tiles=2"]
CFG = HeadConfig().with_overrides(["array.head_dim=8", "array.tile_cols=4", "array.n_tiles=2"])


def _inputs(T=12, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return dict(q=rng.uniform(0, 1, (T, d)), k=rng.uniform(0, 0.9, (T, d)),
                v=rng.uniform(0, 0.9, (T, d)))


def _run(tmp_path, arrays, *extra, name="in.npz"):
    src = tmp_path / name
    np.savez(src, **arrays)
    out = tmp_path / "sub" / "out.npz"
    rc = golden.main(["--inputs", str(src), "--out", str(out), *SETS, *extra])
    return rc, out


def test_cli_writes_all_outputs(tmp_path, capsys):
    arrays = _inputs()
    rc, out = _run(tmp_path, arrays)
    assert rc == 0 and "12 tokens" in capsys.readouterr().out
    res = np.load(out)
    want = run_vectorized(arrays["q"], arrays["k"], arrays["v"], CFG)
    for key in ("scores", "activations", "tile_outputs", "counts", "out"):
        np.testing.assert_array_equal(res[key], getattr(want, key))
    assert res["counts"].shape == (12, 2, 8) and res["out"].dtype == np.int64
    assert HeadConfig.from_json(str(res["config_json"])) == CFG
    assert str(res["layout"]) == "window" and res["scores"].shape == (12, 8)
    assert int(res["window"]) == 8
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.npz"]   # no scratch left


def test_cli_dense_and_chosen_outputs(tmp_path):
    arrays = _inputs(T=20)
    rc, out = _run(tmp_path, arrays, "--dense")
    assert rc == 0
    res = np.load(out)
    assert str(res["layout"]) == "dense" and res["scores"].shape == (20, 20)
    t, s = np.indices((20, 20))
    outside = (s > t) | (s <= t - 8)
    assert np.all(res["scores"][outside] == 0) and np.all(res["scores"][~outside] != 0)
    want = run_vectorized(arrays["q"], arrays["k"], arrays["v"], CFG)
    np.testing.assert_array_equal(res["counts"], want.counts)
    # window rows and dense rows hold the same numbers: key s of query t at column s mod 8
    for tt in range(20):
        ss = np.arange(max(0, tt - 7), tt + 1)
        np.testing.assert_array_equal(want.scores[tt, ss % 8], res["scores"][tt, ss])
    rc, out = _run(tmp_path, arrays, "--outputs", "out,counts", "--method", "token")
    res = np.load(out)
    assert rc == 0 and set(res.files) == {"out", "counts", "config_json", "layout", "window"}
    np.testing.assert_array_equal(res["out"], want.out)


def test_cli_bad_outputs(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _run(tmp_path, _inputs(), "--outputs", "out,attn")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--outputs: outputs must be a comma-separated list of "
                                     "scores, activations, tile_outputs, counts, out, not "
                                     "'out,attn'") in err


def test_cli_token_method_batch_times_and_ideal(tmp_path):
    arrays = {n: np.stack([a, a[::-1]]) for n, a in _inputs().items()}
    arrays["write_times_s"] = np.arange(12) * 1e-6
    arrays["read_times_s"] = np.arange(12) * 1e-6 + 1e-7
    rc, out = _run(tmp_path, arrays, "--method", "token", "--ideal", "quantization, offset",
                   "--set", "analog.tau_retention_s=1e-5")
    assert rc == 0
    res = np.load(out)
    cfg = CFG.with_overrides(["analog.quantization=false", "analog.offset=false",
                              "analog.tau_retention_s=1e-5"])
    want = run_vectorized(arrays["q"][1], arrays["k"][1], arrays["v"][1], cfg,
                          write_times_s=arrays["write_times_s"],
                          read_times_s=arrays["read_times_s"])
    assert res["out"].shape == (2, 12, 8) and res["out"].dtype == np.float64
    np.testing.assert_allclose(res["out"][1], want.out, rtol=1e-12, atol=1e-12)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        golden.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--inputs" in text and "--ideal" in text and "--set" in text


@pytest.mark.parametrize("arrays, msg", [
    ({"q": 1}, "lacks array(s) 'k', 'v' (found: q)"),
    ({**_inputs(), "Q": np.zeros(3)}, "has unexpected array(s) 'Q'; known: q, k, v, "
                                      "write_times_s, read_times_s"),
    ({**_inputs(), "q": np.zeros((12, 4))}, "array 'q' has head dimension 4, but "
                                            "array.head_dim is 8"),
    ({**_inputs(), "k": np.full((12, 8), 0.95)}, "array 'k' must lie in [0, 0.9] V, found 0.95 "
                                                 "at index (0, 0)"),
    ({**_inputs(), "v": np.full((12, 8), np.inf)}, "array 'v' holds a non-finite value"),
    ({**_inputs(), "q": np.zeros((2, 3, 12, 8))}, "array 'q' must have shape (T, d) or "
                                                  "(B, T, d), not (2, 3, 12, 8)"),
    ({**_inputs(), "read_times_s": np.zeros(11)}, "read_times_s must have shape (12,)"),
    ({**_inputs(), "q": np.array([[None] * 8] * 12)}, "array 'q' in"),
])
def test_cli_bad_inputs(tmp_path, capsys, arrays, msg):
    rc, out = _run(tmp_path, arrays)
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    # hdl.cli convention: one line, prefixed with the argparse prog (as parser.error does)
    assert err.startswith("python -m sim.golden: error: ") and err.count("\n") == 1
    assert msg in err


@pytest.mark.parametrize("threads", [None, 2])
def test_cli_runs_on_the_blas_threads_asked(tmp_path, monkeypatch, threads):
    """``--threads N`` (default 1) is the BLAS pool's size while the model runs, and the
    process's own setting again afterwards."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before, seen = blas_threads(), []
    real = golden.cli.run

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(golden.cli, "run", spy)
    extra = ["--threads", str(threads)] if threads else []
    rc, out = _run(tmp_path, _inputs(), *extra)
    assert rc == 0 and out.exists()
    assert seen == [{threads or 1}] and blas_threads() == before


def test_cli_workers_run_the_blocks_in_threads_with_the_same_output(tmp_path, monkeypatch,
                                                                    capsys):
    """``--workers N`` reaches the vectorised path (its threads ran) and the file is the one
    worker's; with the token path it is refused before anything runs."""
    from sim.golden import vectorized
    arrays = _inputs(T=300)
    rc, out = _run(tmp_path, arrays)
    assert rc == 0
    one = dict(np.load(out))
    names, real = set(), vectorized._Worker.block

    def spy(self, *args):
        names.add(threading.current_thread().name)
        return real(self, *args)

    monkeypatch.setattr(vectorized._Worker, "block", spy)
    rc, out = _run(tmp_path, arrays, "--workers", "2")
    assert rc == 0 and names == {"golden-blocks-0", "golden-blocks-1"}
    with np.load(out) as two:
        for key in ("scores", "activations", "tile_outputs", "counts", "out"):
            np.testing.assert_array_equal(two[key], one[key])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        _run(tmp_path, arrays, "--method", "token", "--workers", "2")
    assert e.value.code == 2
    assert ("python -m sim.golden: error: --workers 2: only the vectorized method runs blocks "
            "in parallel (the token path is one token after another)") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(tmp_path, arrays, "--workers", "0")
    assert "--workers" in capsys.readouterr().err


def test_cli_bad_files_and_options(tmp_path, capsys):
    out = str(tmp_path / "o.npz")
    assert golden.main(["--inputs", str(tmp_path / "nope.npz"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    assert golden.main(["--inputs", str(junk), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "is not an .npz archive (it does not start like one" in err
    assert "allow_pickle" not in err                       # not numpy's misleading hint
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert golden.main(["--inputs", str(empty), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "is empty (0 bytes)" in err and "Traceback" not in err
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    assert golden.main(["--inputs", str(broken), "--out", out]) == 2
    assert "is not a readable .npz archive" in capsys.readouterr().err
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    assert golden.main(["--inputs", str(single), "--out", out]) == 2
    assert "is a single .npy array" in capsys.readouterr().err
    src = tmp_path / "in.npz"
    np.savez(src, **_inputs())
    with pytest.raises(SystemExit) as e:
        golden.main(["--inputs", str(src), "--out", out, "--ideal", "noise"])
    assert e.value.code == 2
    assert "--ideal: non-ideality must be one of quantization" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        golden.main(["--inputs", str(src), "--out", out, "--set", "analog.s_sat1_uA=-1"])
    assert "analog.s_sat1_uA must be positive" in capsys.readouterr().err


def test_cli_checks_the_output_before_running(tmp_path, capsys):
    src = tmp_path / "in.npz"
    np.savez(src, **_inputs())
    (tmp_path / "d.npz").mkdir()
    assert golden.main(["--inputs", str(src), "--out", str(tmp_path / "d.npz"), *SETS]) == 2
    err = capsys.readouterr().err
    assert "is a folder, not a file" in err and "tokens" not in err   # before the model ran
    # numpy's savez adds ".npz": the file written is the one named on stdout
    assert golden.main(["--inputs", str(src), "--out", str(tmp_path / "res"), *SETS]) == 0
    assert (tmp_path / "res.npz").exists() and "res.npz" in capsys.readouterr().out
    # an empty name would write a hidden "..npz": refused
    assert golden.main(["--inputs", str(src), "--out", "", *SETS]) == 2
    assert "is not a file name" in capsys.readouterr().err


def test_evaluate_cli(tmp_path, capsys):
    from sim import evaluate
    rc = evaluate.main(["--tokens", "40", "--batch", "1", "--out", str(tmp_path / "ev"), *SETS])
    assert rc == 0
    text = capsys.readouterr().out
    assert "none (ideal linear)" in text and "leakage" in text
    rep = json.loads((tmp_path / "ev" / "evaluate.json").read_text())
    rows = {r["variant"]: r for r in rep["rows"]}
    assert rows["none (ideal linear)"]["rel_error"] < 1e-12
    assert rows["quantization"]["rel_error"] > 0.01
    assert (tmp_path / "ev" / "evaluate.png").stat().st_size > 10_000


def test_error_table_of_chosen_variants():
    """``variants`` picks the rows (what flows.sweep asks: the config as given); a row does not
    depend on which other variants are computed beside it."""
    from sim.evaluate import error_table
    full = error_table(CFG, tokens=40, batch=1, seed=3)
    defaults = [r for r in full if r["variant"].startswith("defaults")][0]
    (only,) = error_table(CFG, tokens=40, batch=1, seed=3, variants=[("config", CFG)])
    assert only == {**defaults, "variant": "config"}


def test_bench_smoke(tmp_path, capsys):
    from flows import bench_golden
    js = tmp_path / "b.json"
    assert bench_golden.main(["--tokens", "40", "--repeat", "1", "--json", str(js), *SETS]) == 0
    rep = json.loads(js.read_text())
    assert rep["counts_agree"] and rep["token"]["tokens_per_s"] > 0
    r = rep["ratio_vectorized_over_token"]["wall"]
    assert r == rep["vectorized"]["tokens_per_s"] / rep["token"]["tokens_per_s"]
    # best and median of the runs (one run: the same)
    assert rep["repeats"] == 1 and len(rep["token"]["runs_seconds"]) == 1
    assert rep["token"]["median"]["seconds"] == rep["token"]["seconds"]
    # peak allocation: the window-layout outputs alone are 40 × 8 × 8 B × 2 arrays
    assert rep["layout"] == "window" and rep["vectorized"]["peak_alloc_MiB"] > 5120 / 2**20
    # where the vectorised run's time went: every step, in order, each timed
    steps = rep["vectorized"]["profile_seconds"]
    assert list(steps) == list(STEPS) and all(sec > 0 for sec in steps.values())
    # the machine's product rate, measured in the same rounds
    gemm = rep["machine_gemm"]
    assert gemm["n"] == bench_golden.GEMM_N and gemm["gflops"] == gemm["gflops_median"] > 0
    out = capsys.readouterr().out
    assert "tokens/s" in out and "vectorised run's steps: setup " in out
    assert "machine: float64 1024³ matrix product" in out
    assert bench_golden.main(["--tokens", "40", "--repeat", "2", "--json", str(js),
                              "--outputs", "out", "--dense", *SETS]) == 0
    rep = json.loads(js.read_text())
    assert rep["outputs"] == ["counts", "out"] and rep["layout"] == "dense"
    runs = rep["vectorized"]["runs_cpu_seconds"]
    assert len(runs) == 2 and rep["vectorized"]["cpu_seconds"] == min(runs)
    assert rep["vectorized"]["median"]["cpu_seconds"] == sum(runs) / 2
    assert "workers" not in rep and "vectorized_workers" not in rep
    # the vectorised path on two threads as well: its figures, scaling and identity
    capsys.readouterr()
    assert bench_golden.main(["--tokens", "300", "--repeat", "1", "--workers", "2",
                              "--json", str(js), *SETS]) == 0
    rep = json.loads(js.read_text())
    wk = rep["vectorized_workers"]
    assert rep["workers"] == 2 and rep["workers_identical"] is True
    assert rep["workers_scaling"]["wall"] == wk["tokens_per_s"] / rep["vectorized"]["tokens_per_s"]
    assert len(wk["runs_seconds"]) == 1
    out = capsys.readouterr().out
    assert "vectorized ×2" in out and "2 workers / 1: " in out


def test_bench_fails_when_the_workers_outputs_differ(monkeypatch, capsys):
    """A vectorised run on two threads whose outputs are not one thread's bits: exit 1."""
    from flows import bench_golden
    import sim.golden as g
    real = g.run_vectorized

    def off_by_one_on_threads(*args, workers=1, **kwargs):
        res = real(*args, workers=workers, **kwargs)
        if workers > 1:
            res.tile_outputs[5, 0, 0] = np.nextafter(res.tile_outputs[5, 0, 0], 2.0)
        return res

    monkeypatch.setattr(g, "run_vectorized", off_by_one_on_threads)
    assert bench_golden.main(["--tokens", "40", "--repeat", "1", "--workers", "2", *SETS]) == 1
    captured = capsys.readouterr()
    assert "the same outputs bit for bit: False" in captured.out
    assert ("python -m flows.bench_golden: failed: the vectorised path on 2 workers gave "
            "outputs different from one worker's") in captured.err


def test_evaluate_single_token_writes_valid_json(tmp_path, capsys):
    """One token: the ideal output is all zero, so the relative error and the correlation are
    undefined — null in the JSON (it used to hold a bare NaN, which is not JSON)."""
    from sim import evaluate

    def no_nan(name):
        raise AssertionError(f"{name} in JSON")

    assert evaluate.main(["--tokens", "1", "--batch", "1", "--out", str(tmp_path), *SETS]) == 0
    rep = json.loads((tmp_path / "evaluate.json").read_text(), parse_constant=no_nan)
    assert all(r["rel_error"] is None and r["correlation"] is None for r in rep["rows"])
    assert "n/a" in capsys.readouterr().out
