"""Behavioural models (numpy) of the analog half of a gain-cell attention head.

Gain cell (:mod:`.gain_cell`), write DAC (:mod:`.dac`), leakage (:mod:`.leakage`), mismatch
(:mod:`.variability`), IR drop (:mod:`.ir_drop`), arrays (:mod:`.array`), charge-to-pulse
circuits (:mod:`.c2p`) and one token's writes and read-out through them (:mod:`.readout`, called
by the golden model and the co-simulation bridge alike).  The arrays' reads of DAC-level cells go
through one small C kernel (:mod:`.level_read`, compiled on first use; numpy matrices without a
compiler).
"""
