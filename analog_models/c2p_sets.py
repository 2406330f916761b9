"""Which token each charge-to-pulse circuit of a column holds: one set, or two in ping-pong.

Every window column has a ReLU C2P and every (tile, dimension) channel a signed C2P
(:mod:`analog_models.c2p` computes what they output).  With ``timing.schedule = "pingpong"``
(:mod:`hdl.schedule`, ``Schedule.c2p_sets`` = 2) each column and channel has two of each, and
token j uses set j mod 2: set 0 can fire token j's A pulses while set 1 integrates token j+1's
QK read.  The head drives one phase-control bit per set (``o_c2p1_integrate[s]`` …); a set
holds its token's charge from its integrate until it fires:

* ReLU set s **integrates** the QK read of a token — the set must be empty and not firing;
* ReLU set s **fires** the A pulses into the V array, which the signed set s integrates: the
  token moves from the ReLU to the signed C2P of the same set (empty and not firing);
* signed set s **fires** the output pulses (counted by the head): the set is empty again.

:class:`C2PSets` keeps that state and refuses a phase sequence the circuits could not follow (a
set integrating a second token over the first or while it fires, a set firing with nothing
integrated), so a
mix-up of the sets on the pins fails the co-simulation instead of mixing two tokens' charges.
The phases are all-column controls: the sets are tracked once for the whole head.
"""

from __future__ import annotations

from typing import Any

__all__ = ["C2PSets"]


class C2PSets:
    """The tokens held by ``sets`` ReLU and ``sets`` signed C2P sets (None = empty)."""

    def __init__(self, sets: int) -> None:
        if sets < 1:
            raise ValueError(f"a column needs at least one C2P set, not {sets}")
        self.sets = sets
        self.relu: list[Any] = [None] * sets
        self.signed: list[Any] = [None] * sets

    def _check_set(self, s: int) -> None:
        if not 0 <= s < self.sets:
            raise AssertionError(f"C2P set {s} does not exist ({self.sets} per column)")

    def integrate(self, s: int, token: Any, *, firing: bool = False) -> None:
        """ReLU set ``s`` starts integrating ``token``'s QK read; ``firing``: the set's fire
        control is on (it is still firing the previous token)."""
        self._check_set(s)
        _check_free("ReLU", s, self.relu[s], firing)
        self.relu[s] = token

    def holds(self, s: int) -> Any:
        """The token ReLU set ``s`` holds (None: empty)."""
        self._check_set(s)
        return self.relu[s]

    def fire_relu(self, s: int, *, signed_firing: bool = False) -> Any:
        """ReLU set ``s`` fires: its token moves to signed set ``s`` (returned);
        ``signed_firing``: the signed set's fire control is on (still firing its last token)."""
        self._check_set(s)
        token = self.relu[s]
        if token is None:
            raise AssertionError(f"ReLU C2P set {s} fired without a QK read")
        _check_free("signed", s, self.signed[s], signed_firing)
        self.relu[s], self.signed[s] = None, token
        return token

    def fire_signed(self, s: int) -> Any:
        """Signed set ``s`` fires its token's output pulses (returned); the set is empty."""
        self._check_set(s)
        token = self.signed[s]
        if token is None:
            raise AssertionError(f"signed C2P set {s} fired with nothing integrated")
        self.signed[s] = None
        return token


def _check_free(kind: str, s: int, held: Any, firing: bool) -> None:
    """A ``kind`` C2P set ``s`` may start integrating only empty (``held`` None) and not
    firing."""
    if held is not None:
        raise AssertionError(f"{kind} C2P set {s} integrates a token while it still holds "
                             f"one that never fired")
    if firing:
        raise AssertionError(f"{kind} C2P set {s} integrates a token while it fires the "
                             f"previous one")
