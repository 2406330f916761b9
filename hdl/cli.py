"""The command-line convention every command of the project follows.

* ``--help`` on every command; ``--config FILE`` and ``--set section.field=value`` wherever a
  :class:`~hdl.config.HeadConfig` is read (:func:`add_config_args`, :func:`config_from_args`).
* **Bad input** (an option, a file, a configuration value, an output path that cannot be
  written): one line ``prog: error: …`` on stderr, exit 2 — argparse's own convention, so
  ``parser.error`` and :class:`UsageError` look the same.  Inputs and outputs are checked
  *before* any work starts (:func:`writable_file`, :func:`writable_dir`).
* **A failed run** (a tool that failed, a mismatch, a simulation error): one line
  ``prog: failed: …`` naming what failed and where its log is, exit 1 (:class:`RunFailed`).
* **Progress** of long jobs goes through :mod:`logging` (logger per module, configured once
  by :func:`run_cli`): timestamped lines on stderr; results go to stdout.

A command's ``main(argv)`` builds its parser and hands its body to :func:`run_cli`, which turns
the exceptions above into the message and the exit code.  This module sits in ``hdl/`` (the
bottom layer) because ``python -m hdl.generate`` needs it and ``hdl`` imports nothing above it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .config import HeadConfig, load_config

__all__ = ["Parser", "UsageError", "RunFailed", "add_config_args", "config_from_args", "run_cli",
           "writable_file", "writable_dir", "nonnegative_int", "positive_int", "positive_float",
           "setup_logging", "EXIT_USAGE", "EXIT_FAILED"]

EXIT_USAGE = 2
EXIT_FAILED = 1


class UsageError(ValueError):
    """Bad input to a command: reported as ``prog: error: …``, exit 2."""


class RunFailed(RuntimeError):
    """A run that started and failed: reported as ``prog: failed: …``, exit 1.

    ``log`` is the file that holds the details (printed after the message)."""

    def __init__(self, message: str, log: str | os.PathLike | None = None) -> None:
        super().__init__(message)
        self.log = None if log is None else Path(log)

    def __str__(self) -> str:
        msg = super().__str__()
        return msg if self.log is None or str(self.log) in msg else f"{msg} (log: {self.log})"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, ``prog: error: … (see --help)``,
    exit 2 — not the usage block first."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


# --- configuration options ------------------------------------------------------------------
def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The ``--config`` and ``--set`` options every CLI of the project has."""
    parser.add_argument("--config", metavar="FILE",
                        help="JSON configuration (a config.json written by hdl.generate works too)")
    parser.add_argument("--set", metavar="SECTION.FIELD=VALUE", action="append", default=[],
                        dest="overrides",
                        help="override one setting, e.g. --set array.n_tiles=4 (repeatable)")


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> HeadConfig:
    """Build the config from parsed CLI args; a bad value ends the program with a clear message."""
    try:
        return load_config(args.config, args.overrides)
    except ValueError as e:
        parser.error(str(e))
        raise  # unreachable: parser.error exits


# --- argparse value types -------------------------------------------------------------------
def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, not {value}")
        return value
    return parse


#: ``type=`` for counts and seeds that may be 0 (``--seed``, ``--reset-after``).
nonnegative_int = _int_at_least(0, "an integer ≥ 0")
#: ``type=`` for counts that must be at least 1 (``--tokens``, ``--heads``, ``--threads``).
positive_int = _int_at_least(1, "an integer ≥ 1")


def positive_float(text: str) -> float:
    """``type=`` for durations and rates that must be > 0 (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


# --- output paths, checked before the work --------------------------------------------------
def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def writable_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as an output folder that exists or can be made; :class:`UsageError` otherwise.

    Nothing is created: the check only looks (the command makes the folder when it writes)."""
    if str(path) == "":
        raise UsageError(f"{option}: an empty path is not a folder")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {str(p)!r} is a file, not a folder")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise UsageError(f"{option} {str(p)!r} cannot be created: {str(base)!r} is a file")
    if not os.access(base, os.W_OK | os.X_OK) or _is_pseudo_fs(base):
        raise UsageError(f"{option} {str(p)!r} is not writable ({str(base)!r} does not allow it)")
    return p


def writable_file(path: str | os.PathLike, option: str = "--out",
                  suffix: str | None = None) -> Path:
    """``path`` as an output file that can be written; :class:`UsageError` otherwise.

    With ``suffix`` (e.g. ``".json"``) the suffix is added when missing, so the path returned
    is the file that will be written (and the one to print)."""
    text = str(path)
    if text == "" or text.endswith(("/", os.sep)):
        raise UsageError(f"{option}: {text!r} is not a file name")
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {str(p)!r} is a folder, not a file")
    if suffix and p.suffix != suffix:
        p = p.with_name(p.name + suffix)
    if p.name.startswith(".") and p.stem in ("", "."):
        raise UsageError(f"{option}: {text!r} is not a file name")
    if p.is_dir():
        raise UsageError(f"{option} {str(p)!r} is a folder, not a file")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{option} {str(p)!r} is not writable")
    writable_dir(p.parent if str(p.parent) else ".", option=f"{option} folder")
    return p


def _is_pseudo_fs(p: Path) -> bool:
    """/proc and /sys look writable to root but refuse new files."""
    try:
        resolved = p.resolve()
    except OSError:
        return False
    return resolved.parts[1:2] in (("proc",), ("sys",))


# --- logging and the main wrapper ------------------------------------------------------------
class _Formatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        t = time.monotonic() - self.t0
        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        return f"[{int(t) // 60:02d}:{t % 60:04.1f}] {prefix}{record.getMessage()}"


PROJECT_PACKAGES = ("hdl", "analog_models", "sim", "tb", "flows", "__main__")


def _ours_or_warning(record: logging.LogRecord) -> bool:
    """Progress of the project's own modules; other libraries only from WARNING up."""
    return (record.levelno >= logging.WARNING
            or record.name.split(".", 1)[0] in PROJECT_PACKAGES)


def setup_logging(level: int = logging.INFO) -> None:
    """Progress lines of every module of the project on stderr, with the elapsed time."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_gca", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._gca = True  # type: ignore[attr-defined]
    handler.setFormatter(_Formatter())
    handler.addFilter(_ours_or_warning)
    root.addHandler(handler)
    root.setLevel(level)


def run_cli(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command's body under the project's convention; return its exit code.

    ``UsageError``/``ValueError`` → ``prog: error: …`` (2); ``RunFailed`` and other
    ``RuntimeError``/``OSError`` → ``prog: failed: …`` (1); Ctrl-C → 130."""
    setup_logging()
    try:
        rc = body()
        return 0 if rc is None else int(rc)
    except (UsageError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (RunFailed, RuntimeError, OSError) as e:
        print(f"{prog}: failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
