"""Amaranth descriptions of the digital periphery of a gain-cell attention head.

Import the blocks from their modules (``hdl.blocks.pwm_bank`` …); this package itself stays light so
that ``hdl.config`` can be imported without Amaranth.
"""
