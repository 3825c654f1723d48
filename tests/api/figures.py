"""Figures the API tests report (cells tested, schemathesis cases, query counts).

Collected with `report()` and printed once by the conftest at the end of the run, so they show
without `-s`.
"""

FIGURES: dict[str, list[str]] = {}


def report(section: str, line: str) -> None:
    """Keep one line of figures for the end-of-run summary (and echo it for `-s`)."""
    FIGURES.setdefault(section, []).append(line)
    print(f"[{section}] {line}")
