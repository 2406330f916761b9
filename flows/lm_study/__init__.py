"""Does the hardware still model language?  A small character-LM study with the bit-true
hardware head in the loop (issue 15).

Modules, one job each: :mod:`.hw_attention` (the head in torch, same numerics as
:mod:`sim.golden`), :mod:`.model` (the character transformer), :mod:`.corpus` (text and
batches), :mod:`.train` (training, evaluation), :mod:`.adaptation` (statistics-matching
scalers), :mod:`.study` (the paper's flow with checkpoints), :mod:`.report` (JSON, Markdown,
plots), :mod:`.cli` (``python -m flows.lm_study``).  Needs the ``lm`` extra (PyTorch).
"""
