"""FPGA prototype flows (issue 10): the host side of the serial link, the simulated board,
board builds and runs.  ``python -m flows.fpga build|run|sim``."""
