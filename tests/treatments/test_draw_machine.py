"""`manage.py draw_machine` prints the course state machine from its own transition table."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.treatments.event_cases import EXPECTED_EDGES
from treatments import machine


def draw(*args: str) -> str:
    out = StringIO()
    call_command("draw_machine", *args, stdout=out)
    return out.getvalue()


def label(event, condition) -> str:
    return str(event) if condition is None else f"{event} ({condition})"


EDGES = list(machine.edges())


def test_there_is_an_edge_for_every_source_of_every_transition():
    # The edge list the diagrams are compared with must itself cover the (version 2) table.
    assert len(EDGES) == len(EXPECTED_EDGES)
    assert {(s, e) for s, e, _, _ in EDGES} == {(s, e) for s, e, _, _ in EXPECTED_EDGES}
    assert ("resection", "resection_completed", "recurrence", "not ned") in EDGES


def test_the_mermaid_diagram_draws_every_edge_once():
    text = draw()

    assert text.startswith("stateDiagram-v2")
    drawn = [line.strip() for line in text.splitlines() if " : " in line]
    expected = [f"{s} --> {t} : {label(e, c)}" for s, e, t, c in EDGES]
    assert sorted(drawn) == sorted(expected)
    assert "[*] --> surveillance" in text
    assert "closed --> [*]" in text


def test_the_dot_diagram_draws_every_edge_once():
    text = draw("--format", "dot")

    assert text.startswith("digraph")
    assert text.rstrip().endswith("}")
    drawn = re.findall(r'"(\w+)" -> "(\w+)" \[label="([^"]+)"\];', text)
    expected = [(str(s), str(t), label(e, c)) for s, e, t, c in EDGES]
    assert sorted(drawn) == sorted(expected)
    for state in machine.State:
        assert f'"{state}"' in text


def test_it_highlights_the_state_asked_for_in_mermaid():
    plain = draw()
    marked = draw("--highlight", "progression")

    assert "class progression highlight" in marked
    assert "highlight" not in plain


def test_it_highlights_the_state_asked_for_in_dot():
    plain = draw("--format", "dot")
    marked = draw("--format", "dot", "--highlight", "ssa")

    highlighted = [line for line in marked.splitlines() if "filled" in line]
    assert len(highlighted) == 1
    assert highlighted[0].strip().startswith('"ssa"')
    assert not [line for line in plain.splitlines() if "filled" in line]


@pytest.mark.parametrize("state", ["remission", "SSA", ""])
def test_an_unknown_state_is_a_command_error(state):
    with pytest.raises(CommandError, match="Unknown state"):
        draw("--highlight", state)


def test_an_unknown_format_is_a_command_error():
    with pytest.raises(CommandError):
        draw("--format", "png")
