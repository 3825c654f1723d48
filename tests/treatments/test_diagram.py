"""The diagram renderers draw every edge of the docs/api.md events table, and only those.

The edges expected are the literal table of ``event_cases``, not the code's own edge list.
"""

from __future__ import annotations

import itertools
import re

import pytest

from tests.treatments.event_cases import ALL_STATES, EXPECTED_EDGES
from treatments.diagram import to_dot, to_mermaid, to_svg


def label(event: str, condition: str | None) -> str:
    return event if condition is None else f"{event} ({condition})"


def test_the_mermaid_diagram_draws_every_edge_of_the_table_once():
    lines = to_mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    for source, event, target, condition in EXPECTED_EDGES:
        assert lines.count(f"    {source} --> {target} : {label(event, condition)}") == 1
    edge_lines = [line for line in lines if " : " in line]
    assert len(edge_lines) == len(EXPECTED_EDGES)
    assert "class" not in to_mermaid()


def test_the_dot_diagram_draws_every_edge_of_the_table_once():
    dot = to_dot()
    lines = dot.splitlines()
    assert lines[0] == "digraph course {" and lines[-1] == "}"
    for source, event, target, condition in EXPECTED_EDGES:
        edge = f'    "{source}" -> "{target}" [label="{label(event, condition)}"];'
        assert lines.count(edge) == 1
    assert len([line for line in lines if " -> " in line]) == len(EXPECTED_EDGES)
    for state in ALL_STATES:
        assert any(line.startswith(f'    "{state}"') for line in lines)
    assert "fillcolor" not in dot


@pytest.mark.parametrize("state", ALL_STATES)
def test_the_diagrams_highlight_the_given_state(state):
    mermaid = to_mermaid(highlight=state)
    assert f"    class {state} highlight" in mermaid.splitlines()
    assert "classDef highlight" in mermaid
    dot_lines = to_dot(highlight=state).splitlines()
    styled = [
        line for line in dot_lines if line.startswith(f'    "{state}" [') and "fillcolor" in line
    ]
    assert len(styled) == 1
    assert sum("fillcolor" in line for line in dot_lines) == 1


def test_the_diagrams_refuse_to_highlight_an_unknown_state():
    with pytest.raises(ValueError, match="Unknown state"):
        to_mermaid(highlight="remission")
    with pytest.raises(ValueError, match="Unknown state"):
        to_dot(highlight="remission")


def test_the_admin_picture_refuses_to_highlight_an_unknown_state_in_the_same_words():
    with pytest.raises(ValueError, match="Unknown state"):
        to_svg(highlight="remission")
    assert 'data-state="ssa"' in to_svg(highlight="ssa")


# --- The admin's picture: every state, every moving event on a labelled arrow, no arrow in a box


def svg_arrows(svg: str) -> list[tuple[str, str, list[tuple[float, float]], str]]:
    """(from, to, points, visible label) of each arrow of the picture."""
    pattern = re.compile(
        r'<g class="transition" data-from="(\w+)" data-to="(\w+)"><polyline points="([^"]+)"'
        r".*?</polyline><text[^>]*>([^<]*)</text></g>"
    )
    return [
        (src, dst, [tuple(map(float, p.split(","))) for p in points.split()], label)
        for src, dst, points, label in pattern.findall(svg)
    ]


def svg_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    pattern = re.compile(
        r'data-state="(\w+)"><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"'
    )
    return {
        state: (float(x), float(y), float(x) + float(w), float(y) + float(h))
        for state, x, y, w, h in pattern.findall(svg)
    }


def crosses(segment, box) -> bool:
    """Whether an axis-parallel segment runs through the inside of a box."""
    (x1, y1), (x2, y2) = segment
    left, top, right, bottom = box
    low_x, high_x, low_y, high_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    return low_x < right and high_x > left and low_y < bottom and high_y > top


def test_the_admin_picture_has_a_box_for_every_state_of_the_table():
    assert set(svg_boxes(to_svg())) == set(ALL_STATES)


# Rows recorded from (nearly) every state: written under the picture, not drawn as arrows
# (resection_completed is drawn from `resection`, its own outcome).
IN_WORDS = {
    "progression_detected",
    "supportive_care_started",
    "resection_completed",
    "course_closed",
}


def test_every_move_between_two_states_is_a_labelled_arrow_or_written_under_the_picture():
    moves = {}
    for source, event, target, _condition in EXPECTED_EDGES:
        drawn = event not in IN_WORDS or (event, source) == ("resection_completed", "resection")
        if source != target and drawn:
            moves.setdefault((source, target), set()).add(event)
    svg = to_svg()
    arrows = {(src, dst): set(label.split(", ")) for src, dst, _, label in svg_arrows(svg)}
    assert arrows == moves
    written = re.findall(r'<text class="legend" data-event="(\w+)"[^>]*>([^<]*)</text>', svg)
    assert {event for event, _ in written} == IN_WORDS
    assert all(text.startswith(f"{event}: from ") for event, text in written)


def test_no_arrow_of_the_picture_runs_through_a_box():
    svg = to_svg()
    boxes = svg_boxes(svg)
    for src, dst, points, _label in svg_arrows(svg):
        for segment in itertools.pairwise(points):
            assert segment[0][0] == segment[1][0] or segment[0][1] == segment[1][1]
            for state, box in boxes.items():
                assert not crosses(segment, box), (src, dst, state, segment)


def test_every_arrow_ends_on_the_edge_of_its_target_box():
    svg = to_svg()
    boxes = svg_boxes(svg)
    for src, dst, points, _label in svg_arrows(svg):
        (sx, sy), (ex, ey) = points[0], points[-1]
        s_left, s_top, s_right, s_bottom = boxes[src]
        d_left, d_top, d_right, d_bottom = boxes[dst]
        assert s_left < sx < s_right and sy in (s_top, s_bottom)
        assert d_left < ex < d_right and ey in (d_top, d_bottom)
