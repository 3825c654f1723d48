"""The diagram renderers draw every edge of the docs/api.md events table, and only those.

The edges expected are the literal table of ``event_cases``, not the code's own edge list.
"""

from __future__ import annotations

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
