"""Every command's bad input: one line ``prog: error: …`` on stderr, exit 2, no traceback, and
refused before any work (synthesis, simulation, model runs) starts.  The README's
troubleshooting table lists these messages; the co-simulation's own are in
``tb/cosim/test_head_cosim.py`` and the generator's in ``test_generate.py``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "array.head_dim=4", "--set", "array.n_tiles=2", "--set", "array.tile_cols=4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_errors")
    (d / "a_file").write_text("x")
    (d / "latin1.json").write_bytes('{"array": {"head_dim": 8}} # é'.encode("latin-1"))
    rng = np.random.default_rng(0)
    np.savez(d / "in.npz", q=rng.uniform(0, 1, (5, 4)), k=rng.uniform(0, .9, (5, 4)),
             v=rng.uniform(0, .9, (5, 4)))
    return d


def run(module: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=300)
    return p, time.monotonic() - t0


CASES = [
    # flows.ppa: values checked before synthesis (--heads -1 used to print "-184 pJ",
    # --heads 0 was a ZeroDivisionError, --tokens 0 / --seed -1 failed after synthesis)
    ("flows.ppa", ["--heads", "-1"], "argument --heads: must be an integer ≥ 1, not -1"),
    ("flows.ppa", ["--heads", "0"], "argument --heads: must be an integer ≥ 1, not 0"),
    ("flows.ppa", ["--tokens", "0"], "--tokens"),
    ("flows.ppa", ["--seed", "-1"], "argument --seed: must be an integer ≥ 0, not -1"),
    ("flows.ppa", ["--simulator", "ghdl"], "argument --simulator: invalid choice: 'ghdl'"),
    ("flows.ppa", ["--out", "/proc/gca"], "is not writable"),
    ("flows.ppa", ["--out", "{d}/a_file"], "is a file, not a folder"),
    # flows.synth
    ("flows.synth", ["--timeout", "0"], "argument --timeout: must be a positive number, not 0"),
    ("flows.synth", ["--timeout", "-5"], "argument --timeout: must be a positive number"),
    ("flows.synth", ["--out", "/proc/gca"], "is not writable"),
    ("flows.synth", ["--out", "{d}/a_file/sub"], "cannot be created"),
    ("flows.synth", ["--block", "nope"], "unknown block 'nope'"),
    ("flows.synth", ["--target", "nope"], "nope"),
    ("flows.synth", ["--mapping", "abc10"], "argument --mapping: invalid choice: 'abc10'"),
    ("flows.synth", ["--router", "router3"], "argument --router: invalid choice: 'router3'"),
    ("flows.synth", ["--freq", "0"], "argument --freq: must be a positive number, not 0"),
    # flows.bench_golden
    ("flows.bench_golden", ["--threads", "0"], "argument --threads: must be an integer ≥ 1"),
    ("flows.bench_golden", ["--seed", "-1"], "argument --seed: must be an integer ≥ 0"),
    ("flows.bench_golden", ["--json", "/proc/b.json"], "is not writable"),
    ("flows.bench_golden", ["--json", "{d}"], "is a folder, not a file"),
    # sim.evaluate
    ("sim.evaluate", ["--seed", "-1"], "argument --seed: must be an integer ≥ 0, not -1"),
    ("sim.evaluate", ["--tokens", "0"], "argument --tokens: must be an integer ≥ 1"),
    ("sim.evaluate", ["--out", "/proc/gca"], "is not writable"),
    ("sim.evaluate", ["--out", "{d}/a_file"], "is a file, not a folder"),
    # sim.golden
    ("sim.golden", ["--inputs", "{d}/in.npz", "--out", "/proc/o.npz"], "is not writable"),
    ("sim.golden", ["--inputs", "{d}/in.npz", "--out", "{d}/o.npz", "--threads", "0"],
     "argument --threads: must be an integer ≥ 1"),
    ("sim.golden", ["--inputs", "{d}/in.npz", "--out", "{d}"], "is a folder, not a file"),
    # flows.lm_study (its model's head dimension is 16: SMALL's head_dim=4 is refused)
    ("flows.lm_study", ["--steps", "0"], "argument --steps: must be an integer ≥ 1, not 0"),
    ("flows.lm_study", ["--out", "/proc/gca"], "is not writable"),
    ("flows.lm_study", [], "array.head_dim=4 must equal the model's head dimension 16"),
    # a config file that is not UTF-8 names the file
    ("hdl.generate", ["--config", "{d}/latin1.json"], "latin1.json' is not UTF-8 text"),
    ("flows.ppa", ["--config", "{d}/latin1.json"], "latin1.json' is not UTF-8 text"),
    ("sim.evaluate", ["--config", "{d}/latin1.json"], "latin1.json' is not UTF-8 text"),
]


@pytest.mark.parametrize(("module", "args", "message"), CASES,
                         ids=[f"{m}:{' '.join(a)}" for m, a, _ in CASES])
def test_bad_input_is_one_line_exit_2_before_work(module, args, message, files):
    p, seconds = run(module, *SMALL, *[a.format(d=files) for a in args])
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"python -m {module}: error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in p.stderr
    assert seconds < 30, f"refused only after {seconds:.0f} s: work ran first"


def test_failed_run_is_one_line_exit_1(tmp_path, capsys):
    """The convention every command's body runs under: a failed run → ``prog: failed: …`` with
    its log, exit 1; bad input → ``prog: error: …``, exit 2."""
    from hdl.cli import RunFailed, UsageError, run_cli

    def fails():
        raise RunFailed("the simulation stopped: AssertionError: x", log=tmp_path / "sim.log")

    def bad():
        raise UsageError("--tokens must be ≥ 1, not 0")

    assert run_cli("prog", fails) == 1
    assert capsys.readouterr().err == (f"prog: failed: the simulation stopped: AssertionError: "
                                       f"x (log: {tmp_path / 'sim.log'})\n")
    assert run_cli("prog", bad) == 2
    assert capsys.readouterr().err == "prog: error: --tokens must be ≥ 1, not 0\n"


def test_synthesis_timeout_stops_the_tool_on_time(tmp_path):
    """--timeout used to be checked only at the 20-s heartbeat."""
    from flows.tools import run_logged

    t0 = time.monotonic()
    rc, timed_out = run_logged(["sleep", "30"], tmp_path, tmp_path / "log.txt", "sleep",
                               timeout_s=0.5)
    assert timed_out and time.monotonic() - t0 < 5


def test_a_tool_killed_by_a_signal_runs_once_more(tmp_path, caplog):
    """A tool that dies by a signal (YoWASP once died with SIGBUS under parallel workers) is
    retried once, with a warning; the second attempt's result counts."""
    from flows.tools import _run

    marker = tmp_path / "died-once"
    script = f"if [ -e {marker} ]; then echo ok; else touch {marker}; kill -BUS $$; fi"
    with caplog.at_level("WARNING"):
        assert _run(["sh", "-c", script]).strip() == "ok"
    assert "died by signal 7; running it once more" in caplog.text
    with pytest.raises(RuntimeError, match=r"failed \(exit -7\)"):
        _run(["sh", "-c", "kill -BUS $$"])
    caplog.clear()
    # Ctrl-C: no retry.  The child restores SIGINT's default first: a job started in the
    # background by a non-interactive shell (a CI runner's) inherits SIGINT ignored, and
    # `sh -c "kill -INT $$"` would then just exit 0.
    interrupt = ("import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                 "os.kill(os.getpid(), signal.SIGINT)")
    with pytest.raises(RuntimeError, match=r"failed \(exit -2\)"):
        _run([sys.executable, "-c", interrupt])
    assert "running it once more" not in caplog.text


def test_synth_tests_collect_without_xdist():
    """`pytest -p no:xdist tb/unit/test_synth.py` used to fail at collection: the
    xdist_group marker is registered by the project itself."""
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "--collect-only", "-q",
                        "tb/unit/test_synth.py"], cwd=REPO_ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
