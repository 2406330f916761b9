"""The critical path of a routed design, from nextpnr's ``--report`` JSON.

nextpnr lists one critical path per clock pair as segments (``clk-to-q``, ``routing``,
``logic``, ``setup``), each with the cells it joins, the net it uses and its delay.  The
report keeps where the path starts and ends (the register cells and the first / last net, which
carry the RTL names) and how its delay splits into logic and routing, so the next person knows
where time goes (issue 12).
"""

from __future__ import annotations

__all__ = ["critical_path"]


def critical_path(report: dict) -> dict | None:
    """The slowest path of nextpnr's report: start/end cell and net, segments, logic and
    routing delay (ns); None when the report has no path."""
    best = None
    for p in report.get("critical_paths", []):
        segs = p.get("path", [])
        total = sum(s.get("delay", 0.0) for s in segs)
        if segs and (best is None or total > best[0]):
            best = (total, p)
    if best is None:
        return None
    total, p = best
    segs = p["path"]
    nets = [s["net"] for s in segs if s.get("type") == "routing" and s.get("net")]

    def ns(kind: str) -> float:
        return round(sum(s.get("delay", 0.0) for s in segs if s.get("type") == kind), 3)

    return {
        "clock_from": p.get("from"), "clock_to": p.get("to"),
        "from_cell": segs[0].get("from", {}).get("cell"),
        "to_cell": segs[-1].get("to", {}).get("cell"),
        "from_net": nets[0] if nets else None, "to_net": nets[-1] if nets else None,
        "nets": nets,
        "segments": sum(1 for s in segs if s.get("type") == "routing"),
        "logic_ns": round(ns("logic") + ns("clk-to-q") + ns("setup"), 3),
        "routing_ns": ns("routing"), "total_ns": round(total, 3),
    }
