"""Write the generated parts of docs/clinical-rules.md: the rule set's version and the guard
table, from treatments/rules_version.py and the guards in treatments/machine/.

The rule book is read by clinicians and the guards are read by the service: generating the
table from ``machine.GUARDS`` keeps the two from drifting, and a test fails when the committed
document no longer matches the code. ``rule_fingerprint`` fingerprints the code of the rule
modules, so that a rule cannot change without a decision on ``RULE_VERSION``
(docs/clinical-rules.md#rule-versions).
"""

import ast
import hashlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from treatments import machine
from treatments.rules_version import RULE_BOOK_FINGERPRINT, RULE_VERSION

START = "<!-- rule_book:guards:start -->"
END = "<!-- rule_book:guards:end -->"
VERSION_START = "<!-- rule_book:version:start -->"
VERSION_END = "<!-- rule_book:version:end -->"

# The pure rule modules whose code the fingerprint covers (docs/clinical-rules.md#rule-versions).
RULE_PACKAGES = ("treatments/machine", "treatments/staging", "surveillance/schedule")


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


def _between(document: str, start_marker: str, end_marker: str, text: str) -> str:
    start = document.find(start_marker)
    end = document.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(
            f"The rule book needs the markers {start_marker} and {end_marker}, in that order."
        )
    head = document[: start + len(start_marker)]
    return f"{head}\n{text}{document[end:]}"


def with_guard_table(document: str) -> str:
    """``document`` with the text between the guard-table markers replaced by ``guard_table``.

    Raises ValueError when the markers are missing or out of order.
    """
    return _between(document, START, END, guard_table())


def version_line() -> str:
    """The rule book's line naming the rule set in force, e.g. "Rule set version: **2026.2** ..."."""
    return (
        f"Rule set version: **{RULE_VERSION}** (`RULE_VERSION` in `treatments/rules_version.py`;\n"
        "see [Rule versions](#rule-versions)).\n"
    )


def with_version(document: str) -> str:
    """``document`` with the text between the version markers replaced by ``version_line``.

    Raises ValueError when the markers are missing or out of order.
    """
    return _between(document, VERSION_START, VERSION_END, version_line())


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                # A body cannot be empty: a function that was only a docstring keeps a `pass`.
                node.body = body[1:] or [ast.Pass()]
    return tree


def rule_fingerprint(root: Path | None = None) -> str:
    """SHA-256 (64 hex digits) of the code of the rule modules under ``RULE_PACKAGES``.

    Each ``.py`` file, in path order, counts by its path and its code as ``ast.unparse``
    writes it with docstrings removed: comments, docstrings, blank lines and formatting do
    not change the fingerprint; any change to a name, a number, a string (a reason, a source)
    or the logic does. ``root`` is the checkout (default ``settings.BASE_DIR``). Raises
    SyntaxError for a module that does not parse.
    """
    base = Path(root or settings.BASE_DIR)
    digest = hashlib.sha256()
    for package in RULE_PACKAGES:
        for path in sorted((base / package).rglob("*.py")):
            tree = _without_docstrings(ast.parse(path.read_text(encoding="utf-8")))
            digest.update(path.relative_to(base).as_posix().encode())
            digest.update(b"\0")
            digest.update(ast.unparse(tree).encode())
            digest.update(b"\0")
    return digest.hexdigest()


def fingerprint_problem() -> str | None:
    """None when the rule modules' fingerprint is the one recorded for ``RULE_VERSION``; else
    what to do, in a sentence naming both fingerprints."""
    current = rule_fingerprint()
    if current == RULE_BOOK_FINGERPRINT:
        return None
    return (
        f"The clinical rules changed since rule set {RULE_VERSION} was recorded: the rule "
        f"modules' fingerprint is {current}, treatments/rules_version.py records "
        f"{RULE_BOOK_FINGERPRINT}. If an answer of the rules changed, give RULE_VERSION a new "
        "version; in either case set RULE_BOOK_FINGERPRINT to the new fingerprint, then run "
        "`python manage.py rule_book --write` (docs/clinical-rules.md#rule-versions)."
    )


class Command(BaseCommand):
    help = (
        "Print the guard table of the rule book, or write it and the rule set's version into "
        "docs/clinical-rules.md; --check also checks the rule modules' fingerprint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--write", action="store_true", help="update docs/clinical-rules.md")
        action.add_argument(
            "--check",
            action="store_true",
            help="exit 1 when the document is out of date or the rules changed without a "
            "decision on RULE_VERSION",
        )
        action.add_argument(
            "--fingerprint",
            action="store_true",
            help="print the rule modules' fingerprint (RULE_BOOK_FINGERPRINT)",
        )

    def handle(self, *args, write: bool, check: bool, fingerprint: bool, **options) -> None:
        if fingerprint:
            self.stdout.write(rule_fingerprint())
            return
        if not (write or check):
            self.stdout.write(guard_table(), ending="")
            return
        path = rule_book_path()
        try:
            current = path.read_text(encoding="utf-8")
            wanted = with_version(with_guard_table(current))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if check:
            problem = fingerprint_problem()
            if problem is not None:
                raise CommandError(problem)
            if wanted != current:
                raise CommandError(
                    f"{path} is out of date: run `python manage.py rule_book --write`."
                )
            self.stdout.write(
                f"The rule book's guard table and version ({RULE_VERSION}) match the code."
            )
            return
        if wanted != current:
            path.write_text(wanted, encoding="utf-8")
            self.stdout.write(f"Updated {path}.")
        else:
            self.stdout.write(f"{path} was already up to date.")
