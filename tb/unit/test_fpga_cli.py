"""``python -m flows.fpga``: one-line errors before any work, the sim command end to end on a
small config, ``run`` failing cleanly without a board, and the cached iCEBreaker build."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.fpga.boards import BOARDS
from flows.fpga.cli import main
from hdl.config import HeadConfig
from hdl.fpga.twin import min_time_scale

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "array.head_dim=2", "--set", "array.n_tiles=2", "--set", "array.tile_cols=4",
         "--set", "analog.s_sat1_uA=10", "--set", "analog.s_sat2_uA=3"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.fpga", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["build", "--board", "nope"], "argument --board: invalid choice: 'nope'"),
    (["sim", "--board", "icebreaker", "--set", "array.head_dim=3"],
     "array.head_dim must be a power of two"),
    (["sim", "--board", "icebreaker", "--divisor", "1"], "--divisor must be ≥ 2, not 1"),
    (["sim", "--board", "icebreaker", "--tokens", "0"], "argument --tokens: must be an integer"),
    (["sim", "--board", "icebreaker", "--out", "/proc/gca.json"], "is not writable"),
    (["build", "--board", "icebreaker", "--out", "/proc/gca"], "is not writable"),
    (["build", "--board", "icebreaker", "--set", "timing.schedule=pingpong"],
     "error: the FPGA prototype does not support timing.schedule=pingpong: its array twin has "
     "one C2P set per column"),
    (["sim", "--board", "ulx3s-85f", "--set", "timing.schedule=pingpong"],
     "use timing.schedule=paper"),
    (["sim", "--board", "icebreaker", "--lanes", "3"],
     "--lanes: twin lanes must divide head_dim = 8 and be at most tile_cols = 16, not 3"),
    (["build", "--board", "ulx3s-85f", "--lanes", "128"],
     "--lanes: twin lanes must divide head_dim = 64 and be at most tile_cols = 64, not 128"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    assert r.stderr.startswith("python -m flows.fpga")


def test_run_without_a_board_fails_in_one_line():
    r = _cli("run", "--board", "icebreaker", "--port", "/dev/does-not-exist", *SMALL,
             "--tokens", "2")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("python -m flows.fpga: failed:")
    assert "/dev/does-not-exist" in r.stderr


@pytest.mark.parametrize("lanes", [[], ["--lanes", "2"]])
def test_sim_command_end_to_end(tmp_path, capsys, lanes):
    out = tmp_path / "summary.json"
    assert main(["sim", "--board", "icebreaker", *SMALL, "--tokens", "14", "--seed", "3",
                 "--out", str(out), *lanes]) == 0
    s = json.loads(out.read_text())
    assert s["tokens"] == s["outputs"] == 14 and s["mismatches"] == 0
    assert s["outputs_missing"] == 0 and s["board_status"]["tokens"] == 14
    assert s["golden_max_abs_diff"] <= 2 and s["simulated"] is True
    assert s["lanes"] == (2 if lanes else 1)
    assert json.loads(capsys.readouterr().out) == s


def test_agree_command_lists_disagreements(tmp_path, capsys):
    out = tmp_path / "agree.json"
    assert main(["agree", "--board", "icebreaker", "--set", "array.tile_cols=4",
                 "--tokens", "300", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["compared"] == 300 * 4 * 8 and res["max_abs_diff"] <= 1
    assert len(res["disagreements"]) == round((1 - res["equal_fraction"]) * res["compared"])
    assert '"n_disagreements"' in capsys.readouterr().out


def test_build_that_does_not_fit_fails_in_one_line(tmp_path, monkeypatch, capsys):
    """Estimated after synthesis (here a stand-in cell count), refused before place and
    route with the resource named."""
    from flows.fpga import build as B

    monkeypatch.setattr(B, "CACHE", tmp_path)
    monkeypatch.setattr(B, "_steps", lambda board, cfg, lanes, d: ["yosys", "nextpnr"])
    monkeypatch.setattr(B, "_run", lambda board, step, d: 1.0)
    monkeypatch.setattr(B, "_cells", lambda d: {"LUT4": 90000, "TRELLIS_FF": 1000})
    assert main(["build", "--board", "ulx3s-85f", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("python -m flows.fpga: failed: d = 64, 16 tiles × 64 columns does not fit "
                   "the ulx3s-85f: LUT4 90,000 > 85% of 83,640 (estimated after synthesis; "
                   "try --fit or a smaller --set array.…)")


@pytest.mark.slow
def test_icebreaker_build_is_cached_and_reported():
    """The prototype config on the iCEBreaker (cached by input hash; the first build on a fresh
    machine takes minutes)."""
    from flows.fpga.build import board_config, build_board

    cfg = board_config("icebreaker")
    res = build_board("icebreaker", cfg)
    bit = Path(res["bitstream"])
    assert bit.exists() and hashlib.sha256(bit.read_bytes()).hexdigest() == \
        res["bitstream_sha256"]
    lc = res["utilisation"]["ICESTORM_LC"]
    assert 0 < lc["used"] <= lc["available"] == 5280
    assert res["time_scale_R"] == min_time_scale(cfg) and res["clock_mhz"] == 12.0
    assert res["fmax_mhz"] > 0 and res["tokens_per_s"] > 0
    assert res["config"] == HeadConfig().with_overrides(
        list(BOARDS["icebreaker"].overrides)).to_dict()
