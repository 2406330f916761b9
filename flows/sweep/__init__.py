"""Design-space sweeps: ``python -m flows.sweep SPEC.toml|json [--workers N]
[--scheduler tcp://HOST:PORT] [--out DIR] [--cache DIR]``.

A spec (:mod:`.spec`) lists axes over config fields, seeds and the measures to compute per
point (:mod:`.measures`: accuracy from the golden model, synthesis, PPA from a real synthesis and
gate-level activity of each point).  The points (:mod:`.points`, every combination) run through
a ``concurrent.futures`` executor (:mod:`.executor`): a local process pool by default, a Dask
cluster with ``--scheduler``.  Each measure of each point is cached by its config, options, seed,
sources and tool versions (:mod:`.store`), so a stopped sweep resumes and a rerun is free; a
point that fails is a row with its error.  :mod:`.run` drives it and logs progress (done,
running, failed, ETA); :mod:`.table` writes ``results.parquet`` / ``results.csv``, and
:mod:`.report` the Pareto plot of energy vs error, energy and area along each axis, and
``summary.md`` naming the best points.
"""

from .cli import main
from .points import Point, expand
from .run import SweepResult, run_sweep
from .spec import SpecError, SweepSpec, load_spec, parse_spec
from .table import read_table

__all__ = ["main", "run_sweep", "SweepResult", "SweepSpec", "SpecError", "load_spec",
           "parse_spec", "expand", "Point", "read_table"]
