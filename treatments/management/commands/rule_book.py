"""Write the guard table of docs/clinical-rules.md from the guards in treatments/machine/.

The rule book is read by clinicians and the guards are read by the service: generating the
table from ``machine.GUARDS`` keeps the two from drifting, and a test fails when the committed
document no longer matches the code.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from treatments import machine

START = "<!-- rule_book:guards:start -->"
END = "<!-- rule_book:guards:end -->"


def rule_book_path() -> Path:
    """docs/clinical-rules.md of this checkout."""
    return Path(settings.BASE_DIR) / "docs" / "clinical-rules.md"


def _cell(text: str) -> str:
    # A pipe would end the Markdown cell early; a newline would end the row.
    return " ".join(text.split()).replace("|", "\\|")


def _kind(result: machine.GuardResult) -> str:
    if not result.blocking:
        return "warning"
    return "refusal, overridable" if result.overridable else "refusal, not overridable"


def guard_table() -> str:
    """The guard table as Markdown: one row per guard, in table order, then the state rules.

    Columns: event, guard, kind, reason, source, evidence. Rows come from ``machine.GUARDS``
    (422 guards and warnings) followed by the two rules that make an event absent from a state
    (``ADJUVANT_RULE`` and ``CLOSED_RULE``, answered with 409).
    """
    lines = [
        "| event | guard | kind | reason | source | evidence |",
        "|---|---|---|---|---|---|",
    ]
    for event, guards in machine.GUARDS.items():
        for guard in guards:
            result = guard.result()
            lines.append(
                f"| `{event}` | `{result.guard}` | {_kind(result)} | {_cell(result.reason)} "
                f"| {_cell(result.source)} | {_cell(result.evidence)} |"
            )
    for label, result in (
        ("any treatment from `surveillance`", machine.ADJUVANT_RULE),
        ("any event on a closed course", machine.CLOSED_RULE),
    ):
        lines.append(
            f"| {label} | `{result.guard}` | {_kind(result)} | {_cell(result.reason)} "
            f"| {_cell(result.source)} | {_cell(result.evidence)} |"
        )
    return "\n".join(lines) + "\n"


def with_guard_table(document: str) -> str:
    """``document`` with the text between the guard-table markers replaced by ``guard_table``.

    Raises ValueError when the markers are missing or out of order.
    """
    start = document.find(START)
    end = document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"The rule book needs the markers {START} and {END}, in that order.")
    head = document[: start + len(START)]
    return f"{head}\n{guard_table()}{document[end:]}"


class Command(BaseCommand):
    help = "Print the guard table of the rule book, or write it into docs/clinical-rules.md."

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--write", action="store_true", help="update docs/clinical-rules.md")
        action.add_argument(
            "--check", action="store_true", help="exit 1 when the document is out of date"
        )

    def handle(self, *args, write: bool, check: bool, **options) -> None:
        if not (write or check):
            self.stdout.write(guard_table(), ending="")
            return
        path = rule_book_path()
        try:
            current = path.read_text(encoding="utf-8")
            wanted = with_guard_table(current)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if check:
            if wanted != current:
                raise CommandError(
                    f"{path} is out of date: run `python manage.py rule_book --write`."
                )
            self.stdout.write("The rule book's guard table matches the code.")
            return
        if wanted != current:
            path.write_text(wanted, encoding="utf-8")
            self.stdout.write(f"Updated {path}.")
        else:
            self.stdout.write(f"{path} was already up to date.")
