"""`manage.py rule_book` keeps the guard table and the rule set's version in
docs/clinical-rules.md equal to the code, and the rule modules' fingerprint to the version."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from treatments import machine
from treatments.management.commands import rule_book
from treatments.management.commands.rule_book import (
    END,
    RULE_PACKAGES,
    START,
    VERSION_END,
    VERSION_START,
    _cell,
    fingerprint_problem,
    guard_table,
    rule_book_path,
    rule_fingerprint,
    version_line,
    with_guard_table,
    with_version,
)
from treatments.rules_version import RULE_BOOK_FINGERPRINT, RULE_VERSION


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


# --- The rule set's version --------------------------------------------------------------------


def test_the_rules_have_not_changed_since_the_version_was_recorded():
    # When this fails, a clinical rule changed: give RULE_VERSION a new version (or, for a
    # change that leaves every answer the same, keep it) and record the printed fingerprint.
    assert fingerprint_problem() is None, fingerprint_problem()
    assert rule_fingerprint() == RULE_BOOK_FINGERPRINT


def test_the_rule_book_shows_the_version_in_force():
    document = rule_book_path().read_text(encoding="utf-8")
    shown = document[document.index(VERSION_START) : document.index(VERSION_END)]
    assert f"**{RULE_VERSION}**" in shown
    assert with_version(document) == document


def test_the_version_is_a_year_and_a_sequence_number():
    year, number = RULE_VERSION.split(".")
    assert len(year) == 4 and year.isdigit() and number.isdigit()


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    """A copy of the rule packages, to change without touching the checkout."""
    for package in RULE_PACKAGES:
        shutil.copytree(Path(settings.BASE_DIR) / package, tmp_path / package)
    return tmp_path


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {relative}: pick another line for this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_copy_has_the_checkouts_fingerprint(rules_copy):
    assert rule_fingerprint(rules_copy) == rule_fingerprint()


@pytest.mark.parametrize(
    ("relative", "old", "new"),
    [
        # A threshold of the symptom scoring.
        ("surveillance/schedule/symptoms.py", "SYNDROME_STOOLS_PER_DAY = 4.0",
         "SYNDROME_STOOLS_PER_DAY = 5.0"),
        # The source a guard result cites.
        ("treatments/machine/guard_base.py", '"ESMO 2020; ENETS', '"ESMO 2021; ENETS'),
        # A staging table's source.
        ("treatments/staging/tables.py", "8th edition: jejunum and ileum NET",
         "9th edition: jejunum and ileum NET"),
    ],
)  # fmt: skip
def test_a_changed_rule_changes_the_fingerprint(rules_copy, relative, old, new):
    _edit(rules_copy, relative, old, new)

    assert rule_fingerprint(rules_copy) != rule_fingerprint()


def test_a_new_rule_module_changes_the_fingerprint(rules_copy):
    (rules_copy / "surveillance/schedule/extra.py").write_text("LIMIT = 3\n", encoding="utf-8")

    assert rule_fingerprint(rules_copy) != rule_fingerprint()


def test_comments_docstrings_and_layout_leave_the_fingerprint_alone(rules_copy):
    relative = "surveillance/schedule/symptoms.py"
    _edit(rules_copy, relative, "SYNDROME_STOOLS_PER_DAY = 4.0",
          "# A reworded comment.\nSYNDROME_STOOLS_PER_DAY = (\n    4.0\n)")  # fmt: skip
    _edit(rules_copy, relative, '"""Scoring of the patient-reported symptom check',
          '"""Scoring, reworded, of the patient-reported symptom check')  # fmt: skip

    assert rule_fingerprint(rules_copy) == rule_fingerprint()


def test_check_fails_with_the_new_fingerprint_when_a_rule_changed_without_a_decision(
    monkeypatch,
):
    monkeypatch.setattr(rule_book, "RULE_BOOK_FINGERPRINT", "f" * 64)

    with pytest.raises(CommandError) as refused:
        call_command("rule_book", "--check")

    message = str(refused.value)
    assert rule_fingerprint() in message
    assert "RULE_VERSION" in message
    assert RULE_VERSION in message


def test_the_fingerprint_option_prints_the_fingerprint_to_record():
    out = StringIO()
    call_command("rule_book", "--fingerprint", stdout=out)
    assert out.getvalue().strip() == rule_fingerprint()
    assert len(out.getvalue().strip()) == 64


def test_a_stale_version_line_is_replaced_and_the_text_around_it_is_kept():
    stale = f"# Rules\n\n{VERSION_START}\nRule set version: **2000.1**\n{VERSION_END}\nrest\n"
    fresh = with_version(stale)
    assert "2000.1" not in fresh
    assert version_line() in fresh
    assert fresh.endswith(f"{VERSION_END}\nrest\n")
