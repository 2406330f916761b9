"""The one configuration object of the project.

Every parameter of a gain-cell attention head — array geometry, word widths, phase lengths,
analog constants and non-ideality switches — lives here, in a tree of frozen keyword-only
dataclasses.  The RTL generators, the analog models, the golden model, the testbenches and the
reports all take a :class:`HeadConfig` and read from it; nothing else holds a parameter.

Defaults are the paper's full head (Leroux, Manea et al., Nat. Comput. Sci. 2025, called P;
its public code, called C; ``../shared/paper/model-spec.md`` section numbers in brackets).

Pure Python on purpose: ``hdl/`` RTL, ``analog_models/`` and ``sim/`` all import it, and it must
not pull in Amaranth or numpy.

Validation happens at construction: a bad value raises ``ValueError`` naming the field, the value
and what is allowed.  ``HeadConfig.from_dict`` rejects unknown keys and wrong types the same way.

Why one file of ~460 lines: it is one object — each field sits beside its docstring (unit,
default, source) and its check, and the derived widths beside the fields they come from;
splitting the sections apart would scatter the one place a reader looks a parameter up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import ANALOG_ENERGY_PRESETS, TECH_PRESETS

__all__ = [
    "ArrayConfig",
    "TimingConfig",
    "AnalogConfig",
    "TechConfig",
    "HeadConfig",
    "NON_IDEALITIES",
    "READOUTS",
    "SCHEDULES",
    "load_config",
]

#: Token read-out architectures (``timing.readout``); the first is the paper's.
READOUTS = ("tile_counters", "pulse_sum")

#: Token schedules (``timing.schedule``); the first is the paper's.
SCHEDULES = ("paper", "pingpong")

#: Names of the analog non-idealities, each with its own switch in :class:`AnalogConfig`.
NON_IDEALITIES = ("quantization", "nonlinearity", "offset", "leakage", "variability", "ir_drop")


def _is_pow2(n: int) -> bool:
    return n >= 1 and (n & (n - 1)) == 0


def _check(cond: bool, name: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ValueError(f"{name} must be {allowed}, not {value!r}")


def _check_types(obj: Any, prefix: str) -> None:
    """Reject values whose type does not match the field annotation (bool is not an int here)."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        hint = hints[f.name]
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hint):
            _check(isinstance(value, hint), name, value, f"a {hint.__name__}")
        elif hint is bool:
            _check(isinstance(value, bool), name, value, "true or false")
        elif hint is int:
            _check(isinstance(value, int) and not isinstance(value, bool), name, value, "an integer")
        elif hint is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            _check(ok and math.isfinite(value), name, value, "a finite number")
        elif hint is str:
            _check(isinstance(value, str), name, value, "a string")
        elif typing.get_origin(hint) is tuple:
            ok = isinstance(value, tuple) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in value
            )
            _check(ok, name, value, "a list of finite numbers")


@dataclass(frozen=True, kw_only=True)
class ArrayConfig:
    """Geometry and word widths of one head's gain-cell arrays and digital periphery."""

    head_dim: int = 64
    """d: rows of each array = query/key/value dimensions of one head (P §2.3; GPT-2 head dim).
    A power of two: the two-row address decoder and the DAC bank are laid out in binary."""

    tile_cols: int = 64
    """Tokens (columns) per sub-tile (P §2.3: 64, the IR-drop limit of one array line).
    A power of two: the column address is a binary field of the write pointer."""

    n_tiles: int = 16
    """Sub-tiles per array; the sliding window is W = n_tiles × tile_cols = 1024 (P §2.3)."""

    q_bits: int = 4
    """Query PWM resolution: 2**q_bits levels, code = round(q·(2**q_bits − 1)) (P §4.1: 16 levels).
    The PWM frame, and so T_max, is 2**q_bits − 1 clock cycles."""

    kv_bits: int = 3
    """K/V write-DAC resolution: 2**kv_bits levels on [0, v_max] (P §4.1: 8 levels)."""

    count_bits: int = 4
    """Magnitude bits of the signed pulse counter (P §2.1: 16-level counter plus sign).
    The counter saturates at 2**count_bits − 1 and must hold T_max: count_bits ≥ q_bits."""

    def __post_init__(self) -> None:
        _check_types(self, "array.")
        _check(_is_pow2(self.head_dim) and self.head_dim <= 1024, "array.head_dim",
               self.head_dim, "a power of two from 1 to 1024")
        _check(_is_pow2(self.tile_cols) and self.tile_cols <= 1024, "array.tile_cols",
               self.tile_cols, "a power of two from 1 to 1024")
        _check(1 <= self.n_tiles <= 256, "array.n_tiles", self.n_tiles,
               "an integer from 1 to 256")
        _check(1 <= self.q_bits <= 8, "array.q_bits", self.q_bits, "an integer from 1 to 8")
        _check(1 <= self.kv_bits <= 8, "array.kv_bits", self.kv_bits, "an integer from 1 to 8")
        _check(self.q_bits <= self.count_bits <= 16, "array.count_bits", self.count_bits,
               f"an integer from q_bits={self.q_bits} (the counter must hold T_max = "
               f"{(1 << self.q_bits) - 1} cycles) to 16")

    # -- derived quantities (the only place they are computed) --------------------------------
    @property
    def window(self) -> int:
        """W: tokens held in the sliding window = n_tiles × tile_cols."""
        return self.n_tiles * self.tile_cols

    @property
    def n_channels(self) -> int:
        """Read-out channels n_tiles × head_dim: one signed C2P circuit, pulse counter and write
        DAC per (tile, dimension) — flat index ``tile · head_dim + dim``."""
        return self.n_tiles * self.head_dim

    @property
    def q_max(self) -> int:
        """Largest query code = PWM frame length in cycles = T_max in cycles."""
        return (1 << self.q_bits) - 1

    @property
    def kv_max(self) -> int:
        """Largest K/V DAC code."""
        return (1 << self.kv_bits) - 1

    @property
    def count_max(self) -> int:
        """Counter saturation value; also the signed C2P full-scale pulse width in cycles."""
        return (1 << self.count_bits) - 1

    @property
    def col_bits(self) -> int:
        """Width of the column-in-tile address."""
        return max(1, (self.tile_cols - 1).bit_length())

    @property
    def tile_bits(self) -> int:
        """Width of the tile address."""
        return max(1, (self.n_tiles - 1).bit_length())

    @property
    def row_bits(self) -> int:
        """Width of a row (head dimension) address."""
        return max(1, (self.head_dim - 1).bit_length())

    @property
    def ptr_bits(self) -> int:
        """Width of the circular write pointer over the window."""
        return max(1, (self.window - 1).bit_length())

    @property
    def count_width(self) -> int:
        """Width of one signed per-tile count (±count_max)."""
        return self.count_bits + 1

    @property
    def sum_width(self) -> int:
        """Width of one signed adder-tree output: holds ±n_tiles·count_max without overflow."""
        return (self.n_tiles * self.count_max).bit_length() + 1


@dataclass(frozen=True, kw_only=True)
class TimingConfig:
    """Clock and phase lengths of the token schedule (DESIGN.md §4)."""

    t_clk_ns: float = 1.0
    """Clock period. 1 ns: 16 PWM levels over T_max = 15 ns (published version) imply a 1 GHz
    pulse clock (model-spec §3.1, inferred; the figure itself is not in P or C)."""

    discharge_cycles: int = 1
    """Cycles to discharge the target column before a write (not in P/C: one cycle assumed)."""

    dac_write_cycles: int = 2
    """Cycles the DAC codes and write enable are held for one array's column (not in P/C)."""

    c2p_reset_cycles: int = 1
    """Cycles to reset a charge-to-pulse integrator after it fired (not in P/C)."""

    adder_pipeline_every: int = 1
    """Adder-tree pipelining: 0 = combinational, k = a register after every k adder levels.
    Default 1: the head's longest register-to-register path is then 16 generic gate levels
    (28 combinational, 21 with k = 2), inside the ≤ 20 a 28 nm-class process needs at 1 GHz,
    for 4 cycles of latency (54 instead of 50, still under the paper's 65 ns) and ~13 % more
    transistors (``python -m flows.synth --block head``)."""

    clock_gating: bool = True
    """Clock gating and operand isolation (issue 11): registers that change only in some phases
    (counters: clear + count window; adder-tree pipeline registers: the cycle their token
    passes; write address, valid mask, FIFO words, PWM: their update cycles) get an enable, which
    the generic synthesis keeps as an enable flip-flop (one integrated clock-gating cell per
    distinct enable net, ``flows/ppa/energy.py``), and the adder-tree inputs are held at zero
    outside the cycle they are summed.  Same outputs cycle for cycle at the head; off = the
    paper's ungated periphery (every flip-flop clocked every cycle)."""

    readout: str = "tile_counters"
    """Token read-out: ``tile_counters`` = the paper's n_tiles·d signed pulse counters plus d
    adder trees (P §2.3); ``pulse_sum`` = per dimension, the tiles' ±1/0 pulses are added every
    cycle into one accumulator (``hdl/blocks/pulse_sum.py``): same sums bit for bit when each
    pulse's sign is held while it is high (the signed C2P contract), far fewer flip-flops."""

    pulse_tree_register: bool = False
    """``pulse_sum`` only: a register in the middle of each dimension's n_tiles-input pulse tree
    (after ⌊levels/2⌋ of its ⌈log2 n_tiles⌉ adder levels) besides the partial-sum register at
    its root.  At 16 tiles the tree's path falls from 26 to 14 generic gate levels (the head's
    longest becomes the accumulator's 18, as in the default head) for one cycle of latency (51 →
    52), d·⌈n/2^⌊levels/2⌋⌉ more partial sums in flip-flops (+1,024 at defaults) and digital
    energy 207 instead of 151 pJ per token-head (n28, ``python -m flows.ppa``)."""
    schedule: str = "paper"
    """Token schedule (``hdl/schedule.py``): ``paper`` = one ReLU and one signed C2P per column,
    the V column written during the QK read (initiation interval 31 cycles at defaults);
    ``pingpong`` = two ReLU and two signed C2Ps per column used by alternate tokens and the V
    column written right before the A fire, so the K and V arrays bound the interval (18
    cycles at defaults, same latency; issue 11 §3)."""

    layers: int = 12
    """L: layers that share the time between two tokens of one head (P §4.1: GPT-2, 12).
    Leakage per token step is L·t_step/τ (P eq. 7)."""

    def __post_init__(self) -> None:
        _check_types(self, "timing.")
        _check(0 < self.t_clk_ns <= 1e6, "timing.t_clk_ns", self.t_clk_ns,
               "a positive period in ns up to 1e6")
        _check(1 <= self.discharge_cycles <= 64, "timing.discharge_cycles",
               self.discharge_cycles, "an integer from 1 to 64")
        _check(1 <= self.dac_write_cycles <= 64, "timing.dac_write_cycles",
               self.dac_write_cycles, "an integer from 1 to 64")
        _check(1 <= self.c2p_reset_cycles <= 64, "timing.c2p_reset_cycles",
               self.c2p_reset_cycles, "an integer from 1 to 64")
        _check(0 <= self.adder_pipeline_every <= 16, "timing.adder_pipeline_every",
               self.adder_pipeline_every, "an integer from 0 (combinational) to 16")
        _check(1 <= self.layers <= 1024, "timing.layers", self.layers,
               "an integer from 1 to 1024")
        _check(self.readout in READOUTS, "timing.readout", self.readout,
               f"one of {', '.join(READOUTS)}")
        _check(not self.pulse_tree_register or self.readout == "pulse_sum",
               "timing.pulse_tree_register", self.pulse_tree_register,
               "false unless timing.readout is pulse_sum")
        _check(self.schedule in SCHEDULES, "timing.schedule", self.schedule,
               f"one of {', '.join(SCHEDULES)}")

    @property
    def t_clk_s(self) -> float:
        return self.t_clk_ns * 1e-9


@dataclass(frozen=True, kw_only=True)
class AnalogConfig:
    """Constants of the analog behavioural models and one switch per non-ideality."""

    v_mid_V: float = 0.45
    """Mid-rail that turns a stored voltage into a signed weight y = V − v_mid (model-spec §1.2)."""

    v_max_V: float = 0.9
    """Top of the K/V write range [0, v_max] (P §4.1) and the cell input voltage V_in (§1.2)."""

    cell_poly_uA: tuple[float, ...] = (0.5213636139, 13.612260634, -2.620445619, 46.05483778)
    """g(y) = Σ C_i·y^i in µA, y in V: the code's 10-term fit collapsed at V_in = 0.9 V
    (model-spec §1.2, exact). C0 = 0.52 µA is the offset current at the midpoint."""

    linear_gain_uA_per_V: float = 19.3
    """Slope of the linear cell surrogate 19.3·y (C 'amp_coefficient', model-spec §1.5)."""

    s_sat1_uA: float = 80.0
    """ReLU C2P saturation, µA·T_max summed over the rows: A = clip(S/80, 0, 1) (C, §3.1)."""

    s_sat2_uA: float = 40.0
    """Signed C2P saturation: O_norm = clip(O/40, −1, 1) (C, model-spec §3.2)."""

    tau_retention_s: float = 5e-3
    """Retention time constant of the CMOS gain cell (P §4.1, fit of SPICE)."""

    var_gain_sigma: float = 0.05
    """Per-cell relative σ of the cell-curve gain when variability is on (not in P/C: assumed)."""

    var_offset_sigma_uA: float = 0.1
    """Per-cell σ of an additive current offset in µA when variability is on (assumed)."""

    ir_drop_alpha: float = 0.05
    """IR-drop approximation: attenuation of the cell farthest from the sense end of a line
    (1 − alpha·position/(n−1)); not in P/C, P only says 64 cells/line keeps IR drop small."""

    seed: int = 0
    """Seed of the variability draw (np.random.default_rng(seed))."""

    quantization: bool = True
    """Quantise Q to 2**q_bits, K/V to 2**kv_bits levels and the output to the counter grid."""

    nonlinearity: bool = True
    """Cubic cell curve g(y); off: the linear surrogate linear_gain·y."""

    offset: bool = True
    """Keep the C0 offset current of the cubic (only meaningful with nonlinearity on)."""

    leakage: bool = True
    """Stored signed values decay by exp(−Δt/τ)."""

    variability: bool = False
    """Per-cell Monte-Carlo mismatch of the cell curve (off by default)."""

    ir_drop: bool = False
    """Attenuation along the line (off by default)."""

    def __post_init__(self) -> None:
        _check_types(self, "analog.")
        _check(0 < self.v_max_V <= 5, "analog.v_max_V", self.v_max_V, "in (0, 5] V")
        _check(0 < self.v_mid_V < self.v_max_V, "analog.v_mid_V", self.v_mid_V,
               f"in (0, v_max_V={self.v_max_V})")
        _check(1 <= len(self.cell_poly_uA) <= 8, "analog.cell_poly_uA", self.cell_poly_uA,
               "a list of 1 to 8 polynomial coefficients")
        _check(self.linear_gain_uA_per_V > 0, "analog.linear_gain_uA_per_V",
               self.linear_gain_uA_per_V, "positive")
        _check(self.s_sat1_uA > 0, "analog.s_sat1_uA", self.s_sat1_uA, "positive")
        _check(self.s_sat2_uA > 0, "analog.s_sat2_uA", self.s_sat2_uA, "positive")
        _check(self.tau_retention_s > 0, "analog.tau_retention_s", self.tau_retention_s,
               "positive (seconds)")
        _check(self.var_gain_sigma >= 0, "analog.var_gain_sigma", self.var_gain_sigma, "≥ 0")
        _check(self.var_offset_sigma_uA >= 0, "analog.var_offset_sigma_uA",
               self.var_offset_sigma_uA, "≥ 0")
        _check(0 <= self.ir_drop_alpha < 1, "analog.ir_drop_alpha", self.ir_drop_alpha,
               "in [0, 1)")
        _check(0 <= self.seed < 2**63, "analog.seed", self.seed, "an integer from 0 to 2**63−1")

    def ideal(self, *names: str) -> "AnalogConfig":
        """A copy with the named non-idealities switched off (names from NON_IDEALITIES)."""
        for n in names:
            _check(n in NON_IDEALITIES, "non-ideality", n, f"one of {', '.join(NON_IDEALITIES)}")
        return dataclasses.replace(self, **{n: False for n in names})


@dataclass(frozen=True, kw_only=True)
class TechConfig:
    """Selects the parameter presets of the energy / latency / area model (flows/ppa/energy.py).

    The numbers themselves, each with its public source, live in the presets of
    flows/ppa/energy.py; the config only names them (the names are listed in hdl/registry.py), so
    that a report embeds which ones it used."""

    preset: str = "n28"
    """Digital technology preset: per-toggle and per-clocked-flip-flop energy and area per
    transistor.  ``n28`` (28 nm-class, the paper's 1 GHz clock; scaled from ``nangate45``),
    ``nangate45`` (Nangate/FreePDK45 open cell library) or ``sky130`` (SkyWater 130 nm)."""

    analog_preset: str = "paper"
    """Analog energy preset: ``paper`` reproduces P's 1120 / 700 / 330 pJ per token per head
    at the default geometry and reference activity (model-spec §9.1)."""

    def __post_init__(self) -> None:
        _check_types(self, "tech.")
        _check(self.preset in TECH_PRESETS, "tech.preset", self.preset,
               f"one of {', '.join(TECH_PRESETS)}")
        _check(self.analog_preset in ANALOG_ENERGY_PRESETS, "tech.analog_preset",
               self.analog_preset, f"one of {', '.join(ANALOG_ENERGY_PRESETS)}")


@dataclass(frozen=True, kw_only=True)
class HeadConfig:
    """One gain-cell attention head: geometry, timing and analog model."""

    array: ArrayConfig = field(default_factory=ArrayConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    analog: AnalogConfig = field(default_factory=AnalogConfig)
    tech: TechConfig = field(default_factory=TechConfig)

    def __post_init__(self) -> None:
        _check_types(self, "")

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["analog"]["cell_poly_uA"] = list(self.analog.cell_poly_uA)
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, so equal configs give equal text (and hash)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON, first 16 hex digits: names the config in reports."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Any) -> "HeadConfig":
        """Build from nested dicts; missing keys take defaults, unknown keys are an error."""
        return _build(cls, data, "")

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> "HeadConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}: not valid JSON ({e})") from None
        return cls.from_dict(data)

    def with_overrides(self, assignments: list[str] | tuple[str, ...]) -> "HeadConfig":
        """Apply ``section.field=value`` overrides (the CLIs' ``--set``)."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--set expects section.field=value, not {item!r}")
            parts = key.strip().split(".")
            if len(parts) != 2 or parts[0] not in data:
                raise ValueError(f"--set {key!r}: unknown setting; expected one of "
                                 f"{', '.join(sorted(data))} followed by .field")
            section, name = parts
            if name not in data[section]:
                raise ValueError(f"--set {key!r}: unknown field {name!r} in {section}; "
                                 f"known: {', '.join(sorted(data[section]))}")
            data[section][name] = _parse_value(raw.strip(), data[section][name], key)
        return HeadConfig.from_dict(data)


def _parse_value(raw: str, current: Any, key: str) -> Any:
    """Parse a --set value by the type of the field it replaces."""
    try:
        if isinstance(current, bool):
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(current, int):
            return int(raw, 0)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, list):
            return [float(x) for x in raw.strip("[]() ").split(",") if x.strip()]
        return raw
    except ValueError:
        kind = type(current).__name__
        raise ValueError(f"--set {key}: {raw!r} is not a valid {kind}") from None


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{prefix}{name} must be a list of finite numbers, "
                                 f"not {value!r}")
            kwargs[name] = tuple(value)
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = float(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> HeadConfig:
    """Defaults, then the JSON file at ``path`` (if any), then ``overrides``."""
    cfg = HeadConfig()
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"cannot read config file {str(p)!r}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"config file {str(p)!r} is not UTF-8 text (byte {e.start}: "
                             f"{e.object[e.start:e.start + 1]!r}); it must be JSON") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {str(p)!r} is not valid JSON ({e})") from None
        if isinstance(data, dict) and "config" in data and "hash" in data:
            data = data["config"]  # a config.json sidecar written by hdl.generate
        cfg = HeadConfig.from_dict(data)
    if overrides:
        cfg = cfg.with_overrides(overrides)
    return cfg
