"""Emit the Verilog of the head's digital blocks: ``python -m hdl.generate``.

Writes, into ``--out`` (default ``build/verilog/``):

* ``<block>.v`` — one self-contained Verilog file per block (module name = block name),
  converted with ``emit_src=False`` so that the same config gives byte-identical files;
* ``config.json`` — ``{"config": <the full HeadConfig>, "hash": <its hash>}``, the sidecar the
  cocotb testbenches and the reports read;
* ``manifest.json`` — every module with its ports (Verilog name, direction, width, signedness)
  and the block's latency, and (CLI default, ``lint=True``) the Verilator lint of each file:
  warnings under default ``--lint-only`` (kept at 0 by a test) and under ``-Wall`` by kind
  (mostly Amaranth's unused debug nets).

The folder is the generator's: files it wrote for another configuration (a ``config.json`` with
another hash) are removed first, so ``manifest.json`` only ever lists files that match
``config.json``.  Generating some blocks for the same configuration keeps the others.

Library use: :func:`generate` (the CLI is a thin wrapper over it).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from .cli import Parser, add_config_args, config_from_args, run_cli, writable_dir
from .config import HeadConfig
from .registry import BLOCKS, HEAD_BLOCK, build_block

__all__ = ["generate", "port_list", "write_sidecar", "owned_files", "wrap_long_lines", "main"]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("build/verilog")

#: Counter bits of the paper's head (1,024 channels × 5 bits); a head this many times larger
#: is announced before generating (legal, but slow).
_PAPER_CHANNEL_BITS = 1024 * 5
LARGE_HEAD_FACTOR = 8


def port_list(component) -> list[dict[str, Any]]:
    """Ports of a ``wiring.Component`` as they appear in the generated Verilog."""
    from amaranth.hdl import Shape
    from amaranth.lib import wiring

    ports = []
    for path, member, _value in component.signature.flatten(component):
        shape = Shape.cast(member.shape)
        ports.append({
            "name": "__".join(str(p) for p in path),
            "dir": "input" if member.flow == wiring.In else "output",
            "width": shape.width,
            "signed": shape.signed,
        })
    return ports


def write_sidecar(cfg: HeadConfig, out_dir: Path) -> Path:
    """Write ``config.json`` (the config and its hash) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "config.json"
    text = json.dumps({"config": cfg.to_dict(), "hash": cfg.hash}, indent=2, sort_keys=True)
    path.write_text(text + "\n")
    return path


def wrap_long_lines(text: str, limit: int = 4000, items: int = 64) -> str:
    """Break Yosys's one-line concatenations (``assign o = { a[0], a[1], … }`` with thousands
    of terms at full size) after every ``items``-th ", ": Verilator rejects a line of more than
    40,000 preprocessor tokens.  Only whitespace changes; lines holding a string are kept."""
    out = []
    for line in text.splitlines(keepends=True):
        if len(line) > limit and '"' not in line:
            parts = line.split(", ")
            line = ",\n    ".join(", ".join(parts[i:i + items])
                                   for i in range(0, len(parts), items))
        out.append(line)
    return "".join(out)


def size_warning(cfg: HeadConfig) -> str | None:
    """A warning for a legal but enormous head (slow to generate), else None."""
    scale = cfg.array.n_channels * cfg.array.count_width / _PAPER_CHANNEL_BITS
    if scale <= LARGE_HEAD_FACTOR:
        return None
    return (f"this head has {cfg.array.n_channels:,} read-out channels of "
            f"{cfg.array.count_width} bits, {scale:.0f}× the paper's: generation takes minutes "
            f"and GBs of memory (the paper's head: ~10 s)")


def owned_files(out_dir: Path) -> list[Path]:
    """The files in ``out_dir`` that the generator writes (and so may replace or remove)."""
    names = [f"{b}.v" for b in BLOCKS] + ["config.json", "manifest.json"]
    return [out_dir / n for n in names if (out_dir / n).is_file()]


def _previous_modules(out_dir: Path, cfg: HeadConfig) -> dict[str, dict[str, Any]]:
    """Manifest entries of an earlier run for the same config (``{}`` if none).  Files written
    for another config, or of an unreadable earlier run, are removed."""
    old_hash, modules = None, {}
    try:
        old_hash = json.loads((out_dir / "config.json").read_text())["hash"]
        manifest = json.loads((out_dir / "manifest.json").read_text())
        if manifest.get("config_hash") == old_hash:
            modules = {m["module"]: m for m in manifest["modules"]
                       if (out_dir / m["file"]).is_file()}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if old_hash == cfg.hash:
        return modules
    stale = owned_files(out_dir)
    if stale:
        log.info("%s holds %d files generated for another configuration (%s): removing them",
                 out_dir, len(stale), old_hash or "unknown")
        for f in stale:
            f.unlink()
    return {}


def _lint(out_dir: Path, name: str) -> dict[str, Any]:
    from .toolchain import ToolMissing, verilator_lint

    try:
        default = verilator_lint([Path(f"{name}.v")], name, cwd=out_dir)
        wall = verilator_lint([Path(f"{name}.v")], name, wall=True, cwd=out_dir)
    except ToolMissing as e:
        return {"skipped": str(e)}
    return {"tool": "verilator --lint-only", "errors": default["errors"],
            "warnings": default["warnings"], "warnings_by_kind": default["by_kind"],
            "wall_warnings": wall["warnings"], "wall_by_kind": wall["by_kind"]}


def generate(cfg: HeadConfig, out_dir: str | Path = DEFAULT_OUT,
             blocks: list[str] | None = None, progress=None, *,
             lint: bool = False) -> dict[str, Any]:
    """Convert ``blocks`` (default: all registered) for ``cfg``; return the manifest.

    ``progress`` is called with one line of text per block (``None``: log it).  ``lint`` adds
    the Verilator lint of each file to its manifest entry (~10 s for the full head).
    """
    from amaranth.back import verilog

    from .toolchain import ensure_yosys_env, yosys_cache_is_warm

    out_dir = Path(out_dir)
    names = list(BLOCKS) if blocks is None else list(blocks)
    for name in names:
        if name not in BLOCKS:
            raise ValueError(f"unknown block {name!r}; known: {', '.join(BLOCKS)}, all")
    ensure_yosys_env()
    say = progress or log.info
    if not yosys_cache_is_warm():
        say("first Yosys run on this machine: YoWASP compiles its WebAssembly once "
            "(about 2 minutes, cached in ~/.cache/YoWASP)")
    if HEAD_BLOCK in names or "counter_bank" in names:
        warning = size_warning(cfg)
        if warning:
            log.warning("%s", warning)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _previous_modules(out_dir, cfg)
    write_sidecar(cfg, out_dir)
    modules = dict(previous)
    for name in names:
        t0 = time.monotonic()
        dut = build_block(name, cfg)
        text = wrap_long_lines(verilog.convert(dut, name=name, emit_src=False))
        (out_dir / f"{name}.v").write_text(text)
        entry = {
            "module": name,
            "file": f"{name}.v",
            "class": f"{BLOCKS[name].module}.{BLOCKS[name].cls}",
            "latency_cycles": dut.latency,
            "ports": port_list(dut),
        }
        if lint:
            entry["lint"] = _lint(out_dir, name)
        modules[name] = entry
        lint_note = ""
        if lint and "warnings" in entry["lint"]:
            lint_note = (f", lint {entry['lint']['warnings']} warnings "
                         f"(-Wall {entry['lint']['wall_warnings']})")
        say(f"{name}.v: {text.count(chr(10))} lines, {time.monotonic() - t0:.1f} s{lint_note}")
    manifest = {"config_hash": cfg.hash,
                "modules": [modules[b] for b in BLOCKS if b in modules]}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    prog = "python -m hdl.generate"
    parser = Parser(
        prog=prog,
        description="Generate the Verilog of the gain-cell attention head's digital blocks "
                    "(defaults: the paper's head, d = 64, 16 tiles of 64 columns, W = 1024).")
    add_config_args(parser)
    parser.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help=f"output folder (default: {DEFAULT_OUT}); files this generator wrote "
                             "there for another configuration are replaced")
    parser.add_argument("--block", metavar="NAME", action="append",
                        help=f"block to emit, repeatable: {', '.join(BLOCKS)}, or all (default)")
    parser.add_argument("--no-lint", action="store_true",
                        help="skip the Verilator lint recorded in manifest.json")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    blocks = None
    if args.block and "all" not in args.block:
        unknown = [b for b in args.block if b not in BLOCKS]
        if unknown:
            parser.error(f"unknown block {unknown[0]!r}; choose from {', '.join(BLOCKS)}, all")
        blocks = args.block

    def body() -> int:
        out = writable_dir(args.out)
        print(f"config {cfg.hash}: d={cfg.array.head_dim}, {cfg.array.n_tiles} tiles × "
              f"{cfg.array.tile_cols} columns (W={cfg.array.window}) → {out}", flush=True)
        manifest = generate(cfg, out, blocks, lint=not args.no_lint,
                            progress=lambda line: print("  " + line, flush=True))
        dirty = [m["module"] for m in manifest["modules"]
                 if m.get("lint", {}).get("warnings") or m.get("lint", {}).get("errors")]
        print(f"wrote {out}/manifest.json and config.json")
        if dirty:
            log.warning("Verilator lint warnings in %s (manifest.json has the counts)",
                        ", ".join(dirty))
        return 0

    return run_cli(prog, body)


if __name__ == "__main__":
    sys.exit(main())
