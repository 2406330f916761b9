"""Power / performance / area report of one head: ``python -m flows.ppa``.

Writes ``ppa.json``, ``ppa.md`` and PNG plots into ``--out`` (default ``build/ppa/<hash>``).

Modules: ``energy`` (the energy / latency / area model with its cited presets), ``activity``
(gate-level simulation of the synthesised head netlist, toggle counting; the simulator,
Verilator or Icarus, in ``gatesim``, the VCD counting in ``vcd``), ``flow``
(:func:`run_ppa`: synthesis + activity + model → the report dict), ``report`` (Markdown and
plots), ``cli`` (:func:`main`).
"""

from .activity import simulate_activity, synthetic_tokens
from .cli import main
from .flow import report_paper_total, run_ppa
from .report import ppa_markdown, write_plots, write_ppa

__all__ = ["run_ppa", "report_paper_total", "write_ppa", "ppa_markdown", "write_plots",
           "simulate_activity", "synthetic_tokens", "main"]
