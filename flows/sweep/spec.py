"""The sweep specification: read a TOML or JSON file, check every field, one-line errors.

A spec (TOML shown; JSON has the same keys)::

    measures = ["accuracy", "synthesis", "ppa"]   # which measures per point (required)
    seeds = [0, 1]                                 # input seeds: every point runs each (default [0])
    base_config = "small.json"                     # optional: a config file (relative to the spec)

    [base]                                         # optional: config fields over the defaults
    array = { tile_cols = 8 }

    [axes]                                         # the grid: every combination is a point
    "array.head_dim" = [4, 8]
    "array.window" = [16, 32]                      # derived axis: n_tiles = window / tile_cols
    "tech.preset" = ["n28", "sky130"]

    [accuracy]                                     # options of a measure (flows/sweep/measures.py)
    tokens = 256

Axes name any config field as ``section.field`` (quoted in TOML, or nested tables
``[axes.array]``), plus ``array.window``.  A bad spec raises :class:`SpecError` (a
:class:`~hdl.cli.UsageError`: ``prog: error: …``, exit 2) naming the file and the key.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdl.cli import UsageError
from hdl.config import HeadConfig, load_config

from .measures import MEASURES, check_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport (the sweep extra)
    import tomli as tomllib

__all__ = ["SweepSpec", "SpecError", "load_spec", "parse_spec", "DERIVED_AXES"]

#: Axes that are not a config field but set one: ``array.window`` sets ``array.n_tiles``.
DERIVED_AXES = ("array.window",)

_TOP = ("name", "measures", "seeds", "base", "base_config", "axes", *MEASURES)


class SpecError(UsageError):
    """A bad sweep specification (exit 2)."""


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep specification."""

    name: str
    base: HeadConfig
    axes: dict[str, list[Any]]
    measures: list[str]
    options: dict[str, dict[str, Any]]
    seeds: list[int] = field(default_factory=lambda: [0])
    source: str = "spec"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base.to_dict(), "axes": self.axes,
                "measures": self.measures, "options": self.options, "seeds": self.seeds}


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check the spec file at ``path`` (``.toml`` or ``.json``)."""
    p = Path(path)
    where = str(p)
    if p.suffix not in (".toml", ".json"):
        raise SpecError(f"spec {where!r}: must be a .toml or .json file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read spec {where!r}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"spec {where!r} is not UTF-8 text (byte {e.start})") from None
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        kind = "TOML" if p.suffix == ".toml" else "JSON"
        raise SpecError(f"spec {where!r} is not valid {kind} ({_one_line(e)})") from None
    return parse_spec(data, source=where, folder=p.parent,
                      default_name=re.sub(r"[^A-Za-z0-9_.\-]", "_", p.stem).lstrip("._-")
                      or "sweep")


def parse_spec(data: Any, *, source: str = "spec", folder: Path = Path("."),
               default_name: str = "sweep") -> SweepSpec:
    """Check a spec given as a dict (what :func:`load_spec` read)."""
    def fail(msg: str) -> SpecError:
        return SpecError(f"spec {source!r}: {msg}")

    if not isinstance(data, dict):
        raise fail(f"must be a table of keys, not {type(data).__name__}")
    unknown = sorted(set(data) - set(_TOP))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; known: {', '.join(_TOP)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        raise fail(f"name must be letters, digits, '_', '-' or '.' (it names the output "
                   f"folder), not {name!r}")

    measures = data.get("measures")
    if measures is None:
        raise fail(f"measures is missing: list one or more of {', '.join(MEASURES)}")
    if (not isinstance(measures, list) or not measures
            or not all(isinstance(m, str) for m in measures)):
        raise fail(f"measures must be a non-empty list of names, not {measures!r}")
    for m in measures:
        if m not in MEASURES:
            raise fail(f"unknown measure {m!r}; known: {', '.join(MEASURES)}")
    if len(set(measures)) != len(measures):
        raise fail(f"measures lists a measure twice: {measures!r}")

    seeds = data.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(_is_int(s) and 0 <= s < 2**32 for s in seeds)):
        raise fail(f"seeds must be a non-empty list of integers from 0 to 2**32−1, "
                   f"not {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise fail(f"seeds repeats a value: {seeds!r}")

    options: dict[str, dict[str, Any]] = {}
    for m in MEASURES:
        given = data.get(m, {})
        if not isinstance(given, dict):
            raise fail(f"[{m}] must be a table of options, not {given!r}")
        if m not in measures and given:
            raise fail(f"[{m}] sets options of a measure not in measures")
        if m in measures:
            try:
                options[m] = check_options(m, given)
            except ValueError as e:
                raise fail(str(e)) from None

    base = _base_config(data, fail, folder)
    axes = _axes(data.get("axes"), base, fail)
    return SweepSpec(name=name, base=base, axes=axes, measures=list(measures),
                     options=options, seeds=list(seeds), source=source)


def _base_config(data: dict, fail, folder: Path) -> HeadConfig:
    path = data.get("base_config")
    if path is not None and (not isinstance(path, str) or not path):
        raise fail(f"base_config must be a file name, not {path!r}")
    try:
        cfg = load_config(folder / path if path else None)
    except ValueError as e:
        raise fail(f"base_config: {e}") from None
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise fail(f"[base] must be a table of config sections, not {base!r}")
    merged = cfg.to_dict()
    for section, fields in base.items():
        if section not in merged:
            raise fail(f"base: unknown section {section!r}; known: {', '.join(sorted(merged))}")
        if not isinstance(fields, dict):
            raise fail(f"base.{section} must be a table of fields, not {fields!r}")
        merged[section].update(fields)
    try:
        return HeadConfig.from_dict(merged)
    except ValueError as e:
        raise fail(f"base: {e}") from None


def _axes(axes: Any, base: HeadConfig, fail) -> dict[str, list[Any]]:
    if axes is None:
        return {}
    if not isinstance(axes, dict):
        raise fail(f"[axes] must be a table of section.field = [values], not {axes!r}")
    flat: dict[str, Any] = {}
    for k, v in axes.items():  # "array.head_dim" = [...] or [axes.array] head_dim = [...]
        if isinstance(v, dict):
            for f, vals in v.items():
                flat[f"{k}.{f}"] = vals
        else:
            flat[k] = v
    known = base.to_dict()
    out: dict[str, list[Any]] = {}
    for name, values in flat.items():
        section, _, fld = name.partition(".")
        if name not in DERIVED_AXES and (section not in known or fld not in known[section]):
            hint = (f"known fields of {section}: {', '.join(sorted(known[section]))}"
                    if section in known else f"known sections: {', '.join(sorted(known))}")
            raise fail(f"axes: unknown field {name!r}; {hint}")
        if not isinstance(values, list):
            raise fail(f"axes.{name} must be a list of values, not {values!r}")
        if not values:
            raise fail(f"axes.{name} is empty: give at least one value")
        if any(isinstance(x, (dict, list)) for x in values):
            raise fail(f"axes.{name}: values must be numbers, strings or booleans")
        if len({json.dumps(x) for x in values}) != len(values):
            raise fail(f"axes.{name} repeats a value: {values!r}")
        out[name] = values
    if "array.window" in out and "array.n_tiles" in out:
        raise fail("axes: array.window and array.n_tiles both set the number of tiles; "
                   "keep one")
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
