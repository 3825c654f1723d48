"""`manage.py rule_book` keeps the guard table of docs/clinical-rules.md equal to machine.py."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from treatments import machine
from treatments.management.commands.rule_book import (
    END,
    START,
    _cell,
    guard_table,
    rule_book_path,
    with_guard_table,
)


def committed_table() -> str:
    document = rule_book_path().read_text(encoding="utf-8")
    start, end = document.index(START) + len(START), document.index(END)
    return document[start:end].lstrip("\n")


def test_the_committed_rule_book_matches_the_guards_in_the_code():
    # When this fails, a guard changed: run `python manage.py rule_book --write` and commit.
    assert committed_table() == guard_table()


def test_the_check_option_passes_on_the_committed_rule_book():
    out = StringIO()
    call_command("rule_book", "--check", stdout=out)
    assert "match the code" in out.getvalue()


def test_every_guard_of_every_event_has_exactly_one_row_with_its_source_and_evidence():
    rows = [line for line in guard_table().splitlines() if line.startswith("| `")]
    guards = [guard for guards in machine.GUARDS.values() for guard in guards]
    assert len(guards) > 10
    for guard in guards:
        matching = [row for row in rows if f"| `{guard.name}` |" in row]
        assert len(matching) == 1, guard.name
        assert f"`{guard.event}`" in matching[0]
        assert guard.evidence in matching[0]


def test_warnings_and_refusals_are_told_apart_in_the_kind_column():
    table = guard_table()
    assert "| `ssa_grade_g3_warns` | warning |" in table
    assert "| `ssa_requires_positive_sstr_imaging` | refusal, overridable |" in table
    assert "| `no_adjuvant_therapy_after_complete_resection` | refusal, not overridable |" in table
    assert "| `course_closed_is_final` | refusal, not overridable |" in table


def test_a_stale_table_between_the_markers_is_replaced_and_the_text_around_it_is_kept():
    stale = f"# Rules\n\nbefore\n\n{START}\n| old | row |\n{END}\n\nafter\n"
    fresh = with_guard_table(stale)
    assert fresh.startswith(f"# Rules\n\nbefore\n\n{START}\n")
    assert fresh.endswith(f"{END}\n\nafter\n")
    assert "| old | row |" not in fresh
    assert guard_table() in fresh
    assert with_guard_table(fresh) == fresh


@pytest.mark.parametrize(
    "document",
    ["no markers at all", f"{END} before {START}", f"only the start {START}"],
)
def test_a_document_without_both_markers_in_order_is_refused(document):
    with pytest.raises(ValueError, match="markers"):
        with_guard_table(document)


def test_a_pipe_or_a_line_break_in_a_reason_cannot_break_the_table_row():
    assert _cell("a | b") == "a \\| b"
    assert _cell("first line\n  second line") == "first line second line"


def test_printing_without_options_writes_the_table_to_stdout():
    out = StringIO()
    call_command("rule_book", stdout=out)
    assert out.getvalue() == guard_table()


def test_write_and_check_cannot_be_asked_together():
    with pytest.raises(CommandError):
        call_command("rule_book", "--write", "--check")
