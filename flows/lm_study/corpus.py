"""Text for the study, nothing downloaded: the standard library's ``pydoc_data/topics.py``
(~465 k characters of Python reference prose) or a UTF-8 text file.

The text is split once, fixed: the first 90 % of the characters train, the last 10 % validate.
Characters are the vocabulary (sorted, from the whole text).  Batches are drawn from a seeded
generator; validation uses fixed, evenly spaced windows so every row of the study sees the
same characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Corpus", "load_corpus", "CORPORA"]

#: Built-in corpora (``--corpus`` also takes a path to a UTF-8 text file).
CORPORA = ("pydoc",)
VAL_FRACTION = 0.1


@dataclass
class Corpus:
    name: str
    chars: str
    train: np.ndarray
    val: np.ndarray

    @property
    def vocab(self) -> int:
        return len(self.chars)

    def batch(self, rng: np.random.Generator, batch: int, context: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) int64 (batch, context): random training windows, y = x shifted by one."""
        start = rng.integers(0, len(self.train) - context - 1, batch)
        return self._windows(self.train, start, context)

    def val_batches(self, n_batches: int, batch: int, context: int):
        """Fixed validation windows, evenly spaced over the validation text."""
        n = n_batches * batch
        start = np.linspace(0, len(self.val) - context - 1, n).astype(np.int64)
        for i in range(n_batches):
            yield self._windows(self.val, start[i * batch:(i + 1) * batch], context)

    @staticmethod
    def _windows(data: np.ndarray, start: np.ndarray, context: int):
        idx = start[:, None] + np.arange(context + 1)[None, :]
        w = torch.from_numpy(data[idx])
        return w[:, :-1], w[:, 1:]


def load_corpus(name: str) -> Corpus:
    """``pydoc`` or a path to a UTF-8 text file (``ValueError`` with a one-line reason)."""
    if name == "pydoc":
        import pydoc_data.topics as topics
        text = "".join(topics.topics[k] for k in sorted(topics.topics))
    else:
        p = Path(name)
        if not p.is_file():
            raise ValueError(f"corpus must be one of {', '.join(CORPORA)} or a text file, "
                             f"not {name!r}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"corpus file {name!r} is not UTF-8 text") from None
        if len(text) < 10_000:
            raise ValueError(f"corpus file {name!r} has {len(text)} characters; "
                             "need at least 10000")
    chars = "".join(sorted(set(text)))
    lut = {c: i for i, c in enumerate(chars)}
    data = np.fromiter((lut[c] for c in text), dtype=np.int64, count=len(text))
    cut = int(len(data) * (1 - VAL_FRACTION))
    return Corpus(name if name == "pydoc" else Path(name).name, chars, data[:cut], data[cut:])
