"""The course state machine drawn from its own transition table: Mermaid, Graphviz and SVG.

Every arrow comes from ``machine.edges()``, so a diagram cannot drift from the rules. Mermaid
and Graphviz text are printed by ``python manage.py draw_machine``; the SVG is the picture on
the admin's course page, where only the placement of the boxes is fixed here.
"""

from html import escape

from . import machine

# --------------------------------------------------------------------------------------------
# Text diagrams (Mermaid, Graphviz dot)
# --------------------------------------------------------------------------------------------


def _edge_label(event: machine.EventType, condition: str | None) -> str:
    return str(event) if condition is None else f"{event} ({condition})"


def _highlighted(highlight: str | None) -> machine.State | None:
    if highlight is None:
        return None
    try:
        return machine.State(highlight)
    except ValueError:
        raise ValueError(f"Unknown state {highlight!r} to highlight.") from None


def _terminal_states() -> list[machine.State]:
    left = {source for source, *_ in machine.edges()}
    return [s for s in machine.State if s not in left]


def to_mermaid(highlight: str | None = None) -> str:
    """A Mermaid ``stateDiagram-v2``: one line per (from, event, to) edge of ``TRANSITIONS``."""
    marked = _highlighted(highlight)
    lines = ["stateDiagram-v2", *(f"    [*] --> {state}" for state in machine.INITIAL_STATES)]
    for source, event, target, condition in machine.edges():
        lines.append(f"    {source} --> {target} : {_edge_label(event, condition)}")
    lines.extend(f"    {state} --> [*]" for state in _terminal_states())
    if marked is not None:
        lines.append("    classDef highlight fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {marked} highlight")
    return "\n".join(lines) + "\n"


def to_dot(highlight: str | None = None) -> str:
    """A Graphviz digraph: one edge statement per (from, event, to) edge of ``TRANSITIONS``."""
    marked = _highlighted(highlight)
    lines = [
        "digraph course {",
        "    rankdir=LR;",
        '    node [shape=box, style="rounded"];',
    ]
    for state in machine.State:
        attributes = ""
        if state is marked:
            attributes = ' [style="rounded,filled,bold", fillcolor="#ffd54f", penwidth=3]'
        elif state is machine.State.CLOSED:
            attributes = " [peripheries=2]"
        lines.append(f'    "{state}"{attributes};')
    for source, event, target, condition in machine.edges():
        lines.append(f'    "{source}" -> "{target}" [label="{_edge_label(event, condition)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# The admin's SVG picture
# --------------------------------------------------------------------------------------------

# Column, row of each state: the main path runs left to right.
LAYOUT: dict[machine.State, tuple[int, int]] = {
    machine.State.SURVEILLANCE: (0, 1),
    machine.State.RESIDUAL_DISEASE: (0, 2),
    machine.State.RESECTION: (1, 0),
    machine.State.RECURRENCE: (1, 1),
    machine.State.OBSERVATION: (1, 2),
    machine.State.SSA: (2, 1),
    machine.State.CHEMOTHERAPY: (2, 2),
    machine.State.SUPPORTIVE: (2, 3),
    machine.State.PROGRESSION: (3, 1),
    machine.State.PRRT: (4, 0),
    machine.State.EVEROLIMUS: (4, 1),
    machine.State.CLOSED: (4, 3),
}
COLUMNS, ROWS = 5, 4
BOX_W, BOX_H, GAP_X, GAP_Y = 130, 34, 110, 110
MARGIN = GAP_Y / 2 + 10  # corridors run outside the grid too
LANE = 5  # distance between parallel arrows in a corridor
LANES = 17  # lanes per corridor: offsets stay within 45 of its middle


# Rows recorded from (nearly) every state are written under the picture instead of drawn:
# a dozen arrows into one box would hide the rest. (event, sources shown in words, target).
LEGEND: tuple[tuple[machine.EventType, str, str], ...] = (
    (machine.EventType.PROGRESSION_DETECTED, "every state with known disease", "progression"),
    (
        machine.EventType.SUPPORTIVE_CARE_STARTED,
        "every state with known disease",
        "supportive",
    ),
    (
        machine.EventType.RESECTION_COMPLETED,
        "any other state while a resection is open",
        "surveillance when ned, else the course stays",
    ),
    (machine.EventType.COURSE_CLOSED, "every open state", "closed"),
)
LEGEND_LINE = 16


def drawn_edges() -> dict[tuple[machine.State, machine.State], list[str]]:
    """The arrows of the picture: (from, to) -> the events of that move, in table order.

    Events that keep the course in its state have no arrow; the rows of ``LEGEND`` are drawn
    only from ``resection`` (the resection's own outcome) and otherwise written in words.
    """
    legend = {event for event, _, _ in LEGEND}
    arrows: dict[tuple[machine.State, machine.State], list[str]] = {}
    for src, event, dst, _condition in machine.edges():
        if src == dst:
            continue
        if event in legend and not (
            event is machine.EventType.RESECTION_COMPLETED and src is machine.State.RESECTION
        ):
            continue
        if str(event) not in arrows.setdefault((src, dst), []):
            arrows[(src, dst)].append(str(event))
    return arrows


def _box(state: machine.State) -> tuple[float, float, float, float]:
    """Left, top, right, bottom of a state's box."""
    col, row = LAYOUT[state]
    left, top = MARGIN + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y)
    return left, top, left + BOX_W, top + BOX_H


def _row_corridor(k: int) -> float:
    """The middle of the free band above row ``k`` (``k == ROWS``: below the last row)."""
    return MARGIN + k * (BOX_H + GAP_Y) - GAP_Y / 2


def _column_corridor(j: int) -> float:
    """The middle of the free band left of column ``j``."""
    return MARGIN + j * (BOX_W + GAP_X) - GAP_X / 2


def _route(src: machine.State, dst: machine.State, lane: int) -> list[tuple[float, float]]:
    """An arrow from ``src`` to ``dst`` that runs only in the corridors between the boxes.

    It leaves ``src`` by its top (target higher up) or bottom into the row corridor next to
    it, runs along it (to the column corridor left of ``dst`` and along that to the row
    corridor next to ``dst`` when they differ) and enters ``dst`` from that corridor.
    Corridors hold no box, so no arrow crosses a box; ``lane`` shifts parallel arrows apart.
    """
    (_s_col, s_row), (d_col, d_row) = LAYOUT[src], LAYOUT[dst]
    s_left, s_top, s_right, s_bottom = _box(src)
    d_left, d_top, d_right, d_bottom = _box(dst)
    offset = (lane % LANES - LANES // 2) * LANE
    up = d_row < s_row
    s_y = _row_corridor(s_row if up else s_row + 1) + offset
    start = ((s_left + s_right) / 2 + offset, s_top if up else s_bottom)
    if d_row > s_row:
        d_y, end_y = _row_corridor(d_row) + offset, d_top
    else:
        d_y, end_y = _row_corridor(d_row + 1) + offset, d_bottom
    end = ((d_left + d_right) / 2 + offset, end_y)
    if d_y == s_y:
        return [start, (start[0], s_y), (end[0], s_y), end]
    x = _column_corridor(d_col) + offset
    return [start, (start[0], s_y), (x, s_y), (x, d_y), (end[0], d_y), end]


def to_svg(highlight: str | None = None) -> str:
    """An SVG of every state and transition, each arrow labelled with its events.

    Events that keep the course where it is (symptom reports, status updates, procedures,
    PRRT cycles) have no arrow; the rows recorded from nearly every state (``LEGEND``) are
    written under the picture; every other move is an arrow labelled with its events
    (``drawn_edges``). Raises ValueError for a `highlight` that names no state.
    """
    current = _highlighted(highlight or None)
    width = round(MARGIN * 2 + COLUMNS * BOX_W + (COLUMNS - 1) * GAP_X)
    grid_height = MARGIN * 2 + ROWS * BOX_H + (ROWS - 1) * GAP_Y
    height = round(grid_height + LEGEND_LINE * len(LEGEND))
    labels = drawn_edges()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Course state machine">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for lane, ((src, dst), events) in enumerate(sorted(labels.items())):
        points = _route(src, dst, lane)
        faint = dst == machine.State.CLOSED
        live = current is not None and src == current
        colour = "#b00020" if live else ("#ccc" if faint else "#555")
        text = escape(", ".join(events))
        path = " ".join(f"{x:.0f},{y:.0f}" for x, y in points)
        (x1, y1), (x2, _y2) = points[1], points[2]
        parts.append(
            f'<g class="transition" data-from="{src}" data-to="{dst}">'
            f'<polyline points="{path}" fill="none" stroke="{colour}" '
            f'stroke-width="{2 if live else 1}" marker-end="url(#arrow)"><title>{text}</title>'
            f'</polyline><text x="{(x1 + x2) / 2:.0f}" y="{y1 - 2:.0f}" text-anchor="middle" '
            f'font-size="8" font-family="sans-serif" fill="{colour if not faint else "#999"}" '
            # A white halo keeps a label readable where it crosses another arrow.
            'stroke="#fff" stroke-width="2.5" paint-order="stroke">'
            f"{text}</text></g>"
        )
    for state in machine.State:
        left, top, _right, _bottom = _box(state)
        on = state == current
        parts.append(
            f'<g class="state{" current" if on else ""}" data-state="{state}">'
            f'<rect x="{left:.0f}" y="{top:.0f}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="6" fill="{"#b00020" if on else "#f4f4f4"}" stroke="#333"/>'
            f'<text x="{left + BOX_W / 2:.0f}" y="{top + BOX_H / 2 + 4:.0f}" '
            f'text-anchor="middle" font-size="13" font-family="sans-serif" '
            f'fill="{"#fff" if on else "#222"}">{state}</text></g>'
        )
    for number, (event, sources, target) in enumerate(LEGEND):
        parts.append(
            f'<text class="legend" data-event="{event}" x="{MARGIN:.0f}" '
            f'y="{grid_height + LEGEND_LINE * number:.0f}" font-size="11" '
            f'font-family="sans-serif" fill="#333">{escape(str(event))}: from {escape(sources)} '
            f"to {escape(target)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
