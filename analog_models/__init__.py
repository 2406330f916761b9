"""Pure-numpy behavioural models of the analog half of a gain-cell attention head.

Gain cell (:mod:`.gain_cell`), write DAC (:mod:`.dac`), leakage (:mod:`.leakage`), mismatch
(:mod:`.variability`), IR drop (:mod:`.ir_drop`), arrays (:mod:`.array`) and charge-to-pulse
circuits (:mod:`.c2p`).  See README.md for the call sequence a co-simulation bridge uses.
"""
