"""The VPI vector ports of :mod:`tb.cosim.vpi` in both simulators, against cocotb's own reads and
writes (:mod:`tb.cosim.cocotb_vpi`) on a loop-back module of several widths: one bit, a word, a
word and a bit, and a record's width (not a multiple of 32)."""

from __future__ import annotations

import pytest

from tb.cosim.runner import REPO_ROOT, SIMULATORS, run_cocotb

BUILD = REPO_ROOT / "build" / "cosim" / "vpi"
WIDTHS = (1, 32, 33, 70, 2966)


def _verilog(widths: tuple[int, ...]) -> str:
    ports = ",\n".join(f"  input [{w - 1}:0] a{w},\n  output [{w - 1}:0] y{w},\n"
                       f"  output reg [{w - 1}:0] x{w}" for w in widths)
    body = "\n".join(f"  assign y{w} = ~a{w};" for w in widths)
    return f"module vpi_loop(\n{ports}\n);\n{body}\nendmodule\n"


@pytest.mark.cosim
@pytest.mark.parametrize("sim", SIMULATORS)
def test_vector_port(sim: str) -> None:
    out = BUILD / sim
    out.mkdir(parents=True, exist_ok=True)
    (out / "vpi_loop.v").write_text(_verilog(WIDTHS))
    run_cocotb(toplevel="vpi_loop", verilog_dir=out, test_module="tb.cosim.cocotb_vpi",
               build_dir=out / "sim", sim=sim,
               extra_env={"GCA_VPI_WIDTHS": ",".join(map(str, WIDTHS))})
