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
    lines = ["stateDiagram-v2", f"    [*] --> {machine.INITIAL_STATE}"]
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
    machine.State.RESECTION: (1, 0),
    machine.State.RECURRENCE: (1, 1),
    machine.State.SSA: (2, 1),
    machine.State.CHEMOTHERAPY: (2, 2),
    machine.State.SUPPORTIVE: (2, 3),
    machine.State.PROGRESSION: (3, 1),
    machine.State.PRRT: (4, 0),
    machine.State.EVEROLIMUS: (4, 1),
    machine.State.CLOSED: (4, 3),
}
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 120, 34, 60, 36, 12


def _centre(state: machine.State) -> tuple[float, float]:
    col, row = LAYOUT[state]
    return PAD + col * (BOX_W + GAP_X) + BOX_W / 2, PAD + row * (BOX_H + GAP_Y) + BOX_H / 2


def _border_point(src: machine.State, dst: machine.State) -> tuple[float, float, float, float]:
    """Start and end of an arrow, cut at the edges of the two boxes."""
    (x1, y1), (x2, y2) = _centre(src), _centre(dst)
    dx, dy = x2 - x1, y2 - y1

    def cut(scale_sign: int) -> tuple[float, float]:
        if dx == 0 and dy == 0:
            return x1, y1
        tx = (BOX_W / 2) / abs(dx) if dx else float("inf")
        ty = (BOX_H / 2) / abs(dy) if dy else float("inf")
        t = min(tx, ty)
        return (x1 + dx * t, y1 + dy * t) if scale_sign > 0 else (x2 - dx * t, y2 - dy * t)

    (sx, sy), (ex, ey) = cut(1), cut(-1)
    return sx, sy, ex, ey


def to_svg(highlight: str | None = None) -> str:
    """An SVG of every state and transition, the `highlight` state filled.

    Raises ValueError for a `highlight` that names no state.
    """
    current = _highlighted(highlight or None)
    width = PAD * 2 + 5 * BOX_W + 4 * GAP_X
    height = PAD * 2 + 4 * BOX_H + 3 * GAP_Y
    labels: dict[tuple[machine.State, machine.State], list[str]] = {}
    for src, event, dst, _condition in machine.edges():
        if src != dst:
            labels.setdefault((src, dst), []).append(str(event))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Course state machine">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for (src, dst), events in sorted(labels.items()):
        sx, sy, ex, ey = _border_point(src, dst)
        faint = dst == machine.State.CLOSED
        live = current is not None and src == current
        colour = "#b00020" if live else ("#ccc" if faint else "#555")
        parts.append(
            f'<line x1="{sx:.0f}" y1="{sy:.0f}" x2="{ex:.0f}" y2="{ey:.0f}" stroke="{colour}" '
            f'stroke-width="{2 if live else 1}" marker-end="url(#arrow)">'
            f"<title>{escape(', '.join(sorted(events)))}</title></line>"
        )
    for state in machine.State:
        x, y = _centre(state)
        on = state == current
        parts.append(
            f'<g class="state{" current" if on else ""}" data-state="{state}">'
            f'<rect x="{x - BOX_W / 2:.0f}" y="{y - BOX_H / 2:.0f}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="6" fill="{"#b00020" if on else "#f4f4f4"}" stroke="#333"/>'
            f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle" font-size="13" '
            f'font-family="sans-serif" fill="{"#fff" if on else "#222"}">{state}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
