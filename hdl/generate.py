"""Emit the Verilog of the head's digital blocks: ``python -m hdl.generate``.

Writes, into ``--out`` (default ``build/verilog/``):

* ``<block>.v`` — one self-contained Verilog file per block (module name = block name),
  converted with ``emit_src=False`` so that the same config gives byte-identical files;
* ``config.json`` — ``{"config": <the full HeadConfig>, "hash": <its hash>}``, the sidecar the
  cocotb testbenches and the reports read;
* ``manifest.json`` — every module with its ports (Verilog name, direction, width, signedness)
  and the block's latency.

Library use: :func:`generate` (the CLI is a thin wrapper over it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .cli import add_config_args, config_from_args
from .config import HeadConfig
from .registry import BLOCKS, build_block

__all__ = ["generate", "port_list", "write_sidecar", "main"]

DEFAULT_OUT = Path("build/verilog")


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


def _wrap_long_lines(text: str, limit: int = 4000, items: int = 64) -> str:
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


def generate(cfg: HeadConfig, out_dir: str | Path = DEFAULT_OUT,
             blocks: list[str] | None = None, progress=None) -> dict[str, Any]:
    """Convert ``blocks`` (default: all registered) for ``cfg``; return the manifest.

    ``progress`` is called with one line of text per block (``None``: silent).
    """
    from amaranth.back import verilog

    from .toolchain import ensure_yosys_env

    ensure_yosys_env()
    out_dir = Path(out_dir)
    names = list(BLOCKS) if blocks is None else list(blocks)
    for name in names:
        if name not in BLOCKS:
            raise ValueError(f"unknown block {name!r}; known: {', '.join(BLOCKS)}, all")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_sidecar(cfg, out_dir)
    modules = []
    for name in names:
        t0 = time.monotonic()
        dut = build_block(name, cfg)
        text = _wrap_long_lines(verilog.convert(dut, name=name, emit_src=False))
        (out_dir / f"{name}.v").write_text(text)
        modules.append({
            "module": name,
            "file": f"{name}.v",
            "class": f"{BLOCKS[name].module}.{BLOCKS[name].cls}",
            "latency_cycles": dut.latency,
            "ports": port_list(dut),
        })
        if progress:
            progress(f"{name}.v: {text.count(chr(10))} lines, {time.monotonic() - t0:.1f} s")
    manifest = {"config_hash": cfg.hash, "modules": modules}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hdl.generate",
        description="Generate the Verilog of the gain-cell attention head's digital blocks "
                    "(defaults: the paper's head, d = 64, 16 tiles of 64 columns, W = 1024).")
    add_config_args(parser)
    parser.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--block", metavar="NAME", action="append",
                        help=f"block to emit, repeatable: {', '.join(BLOCKS)}, or all (default)")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    blocks = None
    if args.block and "all" not in args.block:
        unknown = [b for b in args.block if b not in BLOCKS]
        if unknown:
            parser.error(f"unknown block {unknown[0]!r}; choose from {', '.join(BLOCKS)}, all")
        blocks = args.block
    print(f"config {cfg.hash}: d={cfg.array.head_dim}, {cfg.array.n_tiles} tiles × "
          f"{cfg.array.tile_cols} columns (W={cfg.array.window}) → {args.out}", flush=True)
    generate(cfg, args.out, blocks, progress=lambda line: print("  " + line, flush=True))
    print(f"wrote {args.out}/manifest.json and config.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
