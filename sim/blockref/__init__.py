"""Cycle references of the head's digital blocks, written from each block's contract (not from
the RTL), shared by both test tiers: the Amaranth-simulator tests in ``tb/unit`` and the cocotb
tests of the generated Verilog in ``tb/cosim/blocks`` drive the block and its reference with the
same inputs (:mod:`sim.stimuli`) and compare every cycle.

* :mod:`.channels` — the per-channel datapath: :class:`PwmBankRef`, :class:`CounterBankRef`,
  :class:`AdderTreeRef`, :class:`PulseSumRef`.
* :mod:`.control` — the write path's control: :class:`AddressDecoderRef`,
  :class:`WriteAddressRef`, :class:`WriteSequencerRef`.
"""

from .channels import AdderOut, AdderTreeRef, CounterBankRef, PulseSumRef, PwmBankRef, PwmOut
from .control import AddressDecoderRef, WriteAddressRef, WriteSequencerRef

__all__ = ["PwmBankRef", "CounterBankRef", "AdderTreeRef", "PulseSumRef", "PwmOut", "AdderOut",
           "AddressDecoderRef", "WriteAddressRef", "WriteSequencerRef"]
