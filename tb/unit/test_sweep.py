"""flows.sweep on a 2 × 2 grid of small heads (head_dim 4/8 × window 8/16, tile_cols 4): the
table against the flows run directly, the cache on a rerun, resumption after an interrupted run,
a failing point recorded, the same sweep on a Dask LocalCluster, and bad specs (one line,
exit 2).  Real synthesis and Icarus activity runs (~30 s cold, cached in build/synth after)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from flows import sweep as SW
from flows.sweep.run import ROW_META
from hdl.config import load_config

pytestmark = pytest.mark.xdist_group("flows-sweep")

SPEC = """
measures = ["accuracy", "synthesis", "ppa"]

[base]
array = { tile_cols = 4 }

[axes]
"array.head_dim" = [4, 8]
"array.window" = [8, 16]

[accuracy]
tokens = 48
"""
MEASURES = ("accuracy", "synthesis", "ppa")


def _spec(tmp: Path, text: str = SPEC, name: str = "grid.toml") -> SW.SweepSpec:
    (tmp / name).write_text(text)
    return SW.load_spec(tmp / name)


def _cache_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def _measured(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ROW_META} for r in rows]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    spec = _spec(tmp)
    res = SW.run_sweep(spec, tmp / "out", workers=2, cache_root=tmp / "cache")
    return tmp, spec, res


def test_table_has_a_row_per_point_matching_the_flows_run_directly(grid):
    tmp, spec, res = grid
    assert (res.computed, res.cached, res.failed) == (4, 0, 0)
    df = SW.read_table(res.files["parquet"])
    assert len(df) == 4 and list(df["status"]) == ["ok"] * 4
    assert SW.read_table(res.files["csv"])["ppa.energy_pJ"].tolist() == pytest.approx(
        df["ppa.energy_pJ"].tolist())
    from flows.ppa import run_ppa
    from flows.synth import run_synth
    from sim.golden import run_vectorized
    from sim.ideal import relu_attention
    from sim.stimuli import random_tokens
    for _, r in df.iterrows():
        d, w = int(r["array.head_dim"]), int(r["array.window"])
        # the point's config, written out independently: window = n_tiles × tile_cols
        cfg = load_config(None, ["array.tile_cols=4", f"array.head_dim={d}",
                                 f"array.n_tiles={w // 4}"])
        assert r["config_hash"] == cfg.hash
        # accuracy: ‖y_hw − y_ideal‖/‖y_ideal‖ of the golden model over 48 seeded tokens
        q, k, v = random_tokens(cfg, 48, 0, batch=1)
        y = run_vectorized(q, k, v, cfg).out[0] / cfg.array.count_max
        ideal = relu_attention(q[0], k[0], v[0], cfg)
        assert r["accuracy.rel_error"] == pytest.approx(
            np.linalg.norm(y - ideal) / np.linalg.norm(ideal), rel=1e-12)
        head = run_synth(cfg, ["attention_head"], ["generic"])["blocks"]["attention_head"]
        assert r["synthesis.transistors"] == head["targets"]["generic"]["transistors"]["total"]
        ppa = run_ppa(cfg, n_tokens=12, seed=0, heads=1, sweep=False)
        assert r["ppa.energy_pJ"] == pytest.approx(ppa["energy_pJ"]["head_total"])
        assert r["ppa.area_um2"] == pytest.approx(ppa["area_um2"]["total"])
    # physics, not plumbing: a larger head or window costs more transistors, energy and area
    by = {(int(r["array.head_dim"]), int(r["array.window"])): r for _, r in df.iterrows()}
    for col in ("synthesis.transistors", "ppa.energy_pJ", "ppa.area_um2"):
        assert by[4, 8][col] < by[4, 16][col] < by[8, 16][col]
        assert by[4, 8][col] < by[8, 8][col] < by[8, 16][col]
    # 4 points × 3 measures cached; plots and summary written, the summary names best points
    assert len(_cache_files(tmp / "cache")) == 12
    assert res.files["pareto"].stat().st_size > 10_000 and res.files["axes"].exists()
    md = res.files["summary"].read_text()
    assert "## Best points" in md and "lowest energy per token" in md
    assert "head_dim=4, window=8" in md  # the smallest head has the least energy


def test_rerun_is_served_from_the_cache(grid):
    tmp, spec, first = grid
    before = {p: p.stat().st_mtime_ns for p in _cache_files(tmp / "cache")}
    res = SW.run_sweep(spec, tmp / "out2", workers=2, cache_root=tmp / "cache")
    assert (res.computed, res.cached, res.executor) == (0, 4, "")
    assert all(r["cached"] for r in res.rows)
    assert _measured(res.rows) == _measured(first.rows)
    assert {p: p.stat().st_mtime_ns for p in _cache_files(tmp / "cache")} == before


def test_an_interrupted_sweep_resumes_where_it_stopped(grid, tmp_path):
    _, spec, first = grid
    seen = []

    def stop_after_two(row):
        seen.append(row["point"])
        if len(seen) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does in the driver

    with pytest.raises(KeyboardInterrupt):
        SW.run_sweep(spec, tmp_path / "out", workers=1, cache_root=tmp_path / "cache",
                     on_point=stop_after_two)
    assert len(_cache_files(tmp_path / "cache")) == 2 * len(MEASURES)
    res = SW.run_sweep(spec, tmp_path / "out", workers=1, cache_root=tmp_path / "cache")
    assert (res.computed, res.cached) == (2, 2)
    assert sorted(r["point"] for r in res.rows if r["cached"]) == sorted(seen)
    assert _measured(res.rows) == _measured(first.rows)


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = _spec(tmp_path, """
measures = ["accuracy", "ppa"]
[base]
array = { tile_cols = 4, head_dim = 4, n_tiles = 2 }
[axes]
"analog.quantization" = [true, false]
[accuracy]
tokens = 32
""")
    res = SW.run_sweep(spec, tmp_path / "out", workers=2, cache_root=tmp_path / "cache")
    ok, bad = res.rows
    assert (res.computed, res.failed) == (2, 1)
    assert ok["status"] == "ok" and ok["ppa.energy_pJ"] > 0
    assert bad["status"] == "failed" and bad["accuracy.ok"] and not bad["ppa.ok"]
    assert bad["error"] == ("ppa: ValueError: switching activity needs quantised counts "
                            "(analog.quantization on)")
    assert bad["accuracy.rel_error"] >= 0 and "ppa.energy_pJ" not in bad
    df = SW.read_table(res.files["csv"])
    assert list(df["status"]) == ["ok", "failed"] and "quantised counts" in df["error"][1]
    assert "## Failed points" in res.files["summary"].read_text()
    # the failure is not cached: a rerun tries it again; the accuracy of that point is cached
    again = SW.run_sweep(spec, tmp_path / "out", workers=1, cache_root=tmp_path / "cache")
    assert (again.computed, again.cached, again.failed) == (1, 1, 1)


def test_an_invalid_combination_is_a_failed_row_not_a_stop(tmp_path):
    spec = _spec(tmp_path, """
measures = ["accuracy"]
[base]
array = { tile_cols = 4, head_dim = 4, n_tiles = 2 }
[axes]
"array.q_bits" = [3, 5]
"array.count_bits" = [4, 5]
[accuracy]
tokens = 16
""")
    res = SW.run_sweep(spec, tmp_path / "out", workers=1, cache_root=tmp_path / "cache")
    bad = [r for r in res.rows if r["status"] != "ok"]
    assert [(r["array.q_bits"], r["array.count_bits"]) for r in bad] == [(5, 4)]
    assert bad[0]["error"].startswith("invalid config: array.count_bits must be an integer "
                                      "from q_bits=5")
    assert res.computed == 3


def test_the_same_sweep_on_a_dask_cluster_gives_the_same_table(grid, tmp_path):
    import distributed

    tmp, spec, first = grid
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = set(client.run(os.getpid).values())
        rc = SW.main([str(tmp / "grid.toml"), "--scheduler", cluster.scheduler_address,
                      "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    assert rc == 0
    run = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert run["computed"] == 4 and run["executor"].startswith("Dask scheduler tcp://")
    df = SW.read_table(tmp_path / "out" / "results.parquet")
    assert {int(w.rsplit(":", 1)[1]) for w in df["worker"]} <= pids  # ran on the cluster
    local = SW.read_table(first.files["parquet"])
    meta = list(ROW_META)
    assert df.drop(columns=meta).equals(local.drop(columns=meta))


BAD = [
    ("grid.toml", 'measures = ["accuracy"]\nfoo = 1\n', "unknown key 'foo'"),
    ("grid.toml", 'name = "../x"\nmeasures = ["accuracy"]\n', "name must be letters, digits"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"array.head_dimm" = [4]\n',
     "axes: unknown field 'array.head_dimm'; known fields of array:"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"arr.head_dim" = [4]\n',
     "axes: unknown field 'arr.head_dim'; known sections:"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"array.head_dim" = [4, 3]\n',
     "axes.array.head_dim = 3 gives no valid config: array.head_dim must be a power of two"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"tech.preset" = ["n28", "n3"]\n',
     "axes.tech.preset = 'n3' gives no valid config: tech.preset must be one of"),
    ("grid.toml", 'measures = ["accuracy", "power"]\n', "unknown measure 'power'; known: "
     "accuracy, synthesis, ppa"),
    ("grid.toml", 'measures = []\n', "measures must be a non-empty list"),
    ("grid.toml", '[axes]\n"array.head_dim" = [4]\n', "measures is missing"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"array.head_dim" = []\n',
     "axes.array.head_dim is empty"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"array.head_dim" = 4\n',
     "axes.array.head_dim must be a list of values"),
    ("grid.toml", 'measures = ["accuracy"]\n[axes]\n"array.window" = [8]\n'
     '"array.n_tiles" = [2]\n', "array.window and array.n_tiles both set"),
    ("grid.toml", 'measures = ["accuracy"]\n[accuracy]\ntokens = 0\n',
     "[accuracy] tokens must be an integer from 1"),
    ("grid.toml", 'measures = ["accuracy"]\n[accuracy]\ntoken = 5\n',
     "[accuracy]: unknown option 'token'; known: tokens, batch"),
    ("grid.toml", 'measures = ["ppa"]\n[ppa]\ntokens = 2\n',
     "[ppa] tokens must be an integer from 6 to 4096, not 2"),
    ("grid.toml", 'measures = ["accuracy"]\n[ppa]\ntokens = 12\n',
     "[ppa] sets options of a measure not in measures"),
    ("grid.toml", 'measures = ["synthesis"]\n[synthesis]\nfpga = "virtex"\n',
     "[synthesis] fpga must be \"\" (none) or an FPGA target"),
    ("grid.toml", 'measures = ["accuracy"]\nseeds = [-1]\n', "seeds must be a non-empty list"),
    ("grid.toml", 'measures = ["accuracy"]\n[base]\narray = { head_dim = 6 }\n',
     "base: array.head_dim must be a power of two"),
    ("grid.toml", 'measures = ["accuracy"\n', "is not valid TOML"),
    ("grid.json", '{"measures": ["accuracy"],}', "is not valid JSON"),
    ("grid.json", '["accuracy"]', "must be a table of keys, not list"),
    ("grid.yaml", 'measures: [accuracy]', "must be a .toml or .json file"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_spec_is_one_line_exit_2(tmp_path, capsys, name, text, message):
    (tmp_path / name).write_text(text)
    rc = SW.main([str(tmp_path / name), "--out", str(tmp_path / "out"),
                  "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"python -m flows.sweep: error: spec '{tmp_path / name}'")
    assert message in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def _main(argv: list[str]) -> int:
    try:
        return SW.main(argv)
    except SystemExit as e:  # argparse's own errors exit from parse_args
        return e.code


def test_bad_command_lines_are_one_line_exit_2(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('measures = ["accuracy"]\n')
    (tmp_path / "file").write_text("x")
    cases = [
        (["--scheduler", "localhost:8786"], "--scheduler 'localhost:8786': expected a Dask "
                                            "scheduler address such as tcp://HOST:8786"),
        (["--scheduler", "tcp://h:1", "--workers", "2"], "--workers has no effect with "
                                                         "--scheduler"),
        (["--workers", "0"], "argument --workers: must be an integer ≥ 1, not 0"),
        (["--out", str(tmp_path / "file")], "is a file, not a folder"),
        (["--cache", "/proc/gca"], "--cache '/proc/gca' is not writable"),
    ]
    for extra, message in cases:
        rc = _main([str(spec), *extra])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and message in err, (extra, err)
    rc = _main([str(tmp_path / "missing.toml")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "cannot read spec" in err and "No such file" in err


def test_a_scheduler_that_does_not_answer_fails_in_one_line(tmp_path, capsys, monkeypatch):
    import socket

    from flows.sweep import executor
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 2)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = tmp_path / "s.toml"
    spec.write_text('measures = ["accuracy"]\n[accuracy]\ntokens = 8\n')
    rc = SW.main([str(spec), "--scheduler", f"tcp://127.0.0.1:{port}",
                  "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 1
    assert err.startswith(f"python -m flows.sweep: failed: cannot reach the Dask scheduler at "
                          f"tcp://127.0.0.1:{port}")


def test_the_readme_example_is_the_shipped_example_spec():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Sweep the design space"):]
    block = section[section.index("```toml\n") + 8:section.index("```\n", 8)]
    import tomllib
    from_readme = SW.parse_spec(tomllib.loads(block), source="README")
    shipped = SW.load_spec(root / "flows" / "sweep" / "examples" / "design_space.toml")
    assert from_readme.to_dict() == shipped.to_dict()
    assert len(SW.expand(shipped)) >= 12 and all(p.config for p in SW.expand(shipped))
