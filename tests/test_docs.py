"""The documentation in docs/ holds together: links resolve, and code cites sections that exist.

Code comments and error messages cite docs by path and anchor (``docs/api.md#errors``), so a
renamed heading must fail a test rather than leave a dead citation behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from treatments.management.commands.rule_book import END, START

ROOT = Path(settings.BASE_DIR)
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# Files a reader of the repository never sees; the docs must not send anyone to them.
OUTSIDE_FILES = re.compile(r"\b(?:CLINICAL|API|DESIGN|RELIABILITY|STYLE)\.md\b|clinical-sources")
CITATION = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
SOURCE_SUFFIXES = {".py", ".html", ".txt", ".md"}
SKIPPED_DIRS = {".venv", ".git", "node_modules", "var", "test-artifacts"}


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) makes from a heading's text."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, with -1, -2 suffixes for repeated headings."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        base = slug(heading)
        count = seen.get(base, -1) + 1
        seen[base] = count
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def hand_written(page: Path) -> str:
    """The page without its generated guard table (its text comes from the code)."""
    text = page.read_text(encoding="utf-8")
    if START in text and END in text:
        text = text[: text.index(START)] + text[text.index(END) :]
    return text


def source_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        if set(path.relative_to(ROOT).parts) & SKIPPED_DIRS:
            continue
        if path.is_file() and path.suffix in SOURCE_SUFFIXES:
            files.append(path)
    return files


def test_the_docs_have_an_index_and_the_four_guides():
    names = {page.name for page in PAGES}
    assert {"README.md", "architecture.md", "clinical-rules.md", "api.md", "operations.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_between_doc_pages_reaches_an_existing_page_and_section(page):
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", link) or link.startswith("../"):
            continue
        name, _, anchor = link.partition("#")
        target = DOCS / name if name else page
        if not target.exists() or (anchor and anchor not in anchors(target)):
            broken.append(link)
    assert broken == []


def test_every_docs_section_cited_in_the_code_exists():
    known = {page.name: anchors(page) for page in PAGES}
    dead = []
    for path in source_files():
        for name, anchor in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            if name not in known or (anchor and anchor not in known[name]):
                dead.append(f"{path.relative_to(ROOT)}: docs/{name}#{anchor}")
    assert dead == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_doc_sends_the_reader_to_a_file_outside_the_repository(page):
    assert OUTSIDE_FILES.findall(hand_written(page)) == []


def test_no_code_comment_or_message_cites_a_file_outside_the_repository():
    # This file alone names them, to find them.
    this = Path(__file__).resolve()
    citing = {
        f"{path.relative_to(ROOT)}: {', '.join(sorted(set(found)))}"
        for path in source_files()
        if path.resolve() != this and DOCS not in path.parents
        for found in [OUTSIDE_FILES.findall(path.read_text(encoding="utf-8", errors="replace"))]
        if found
    }
    assert sorted(citing) == []


def test_the_outside_file_pattern_finds_every_way_they_are_cited():
    # The names are assembled here so that no file of the repository spells them out.
    md = ".md"
    cited = [f"CLINICAL{md} §2", f"`API{md}`", f"see DESIGN{md}.", f"(RELIABILITY{md} item 9)",
             f"STYLE{md}, habit 1", f"clinical-sources{md} §2.4"]  # fmt: skip
    assert [bool(OUTSIDE_FILES.search(text)) for text in cited] == [True] * len(cited)
    assert not OUTSIDE_FILES.search("docs/clinical-rules.md#sources and docs/api.md#errors")


def environment_variables() -> set[str]:
    """The variables netcare/settings.py and alerts/conf.py read from the environment."""
    settings_text = (ROOT / "netcare" / "settings.py").read_text(encoding="utf-8")
    conf_text = (ROOT / "alerts" / "conf.py").read_text(encoding="utf-8")
    names = set(re.findall(r"env\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", settings_text))
    names |= set(re.findall(r"_required\(\"([A-Z][A-Z0-9_]+)\"\)", settings_text))
    names |= set(re.findall(r"Env\(\)\.\w+\(\"([A-Z][A-Z0-9_]+)\"", settings_text))
    names |= set(re.findall(r"_get\(\s*\"(ALERTS_[A-Z0-9_]+)\"", conf_text))
    # The recording backends' fault injection is documented as a family, not one by one.
    return {name for name in names if not name.startswith("ALERTS_RECORDING_")}


def test_every_environment_variable_the_settings_read_is_in_the_operations_guide():
    names = environment_variables()
    assert {"DATABASE_URL", "SECRET_KEY", "ALERTS_LEASE_SECONDS"} <= names
    guide = (DOCS / "operations.md").read_text(encoding="utf-8")
    assert sorted(name for name in names if f"`{name}`" not in guide) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Allowed ranges and the 12-month cap", "allowed-ranges-and-the-12-month-cap"),
        ("Version 2 rules (planned)", "version-2-rules-planned"),
        ("AJCC 8th TNM for jejunum and ileum", "ajcc-8th-tnm-for-jejunum-and-ileum"),
        ("Patients, reminders, alerts", "patients-reminders-alerts"),
        ("The `{code}` body", "the-code-body"),
    ],
)
def test_anchors_are_made_from_headings_as_a_markdown_renderer_makes_them(heading, anchor):
    assert slug(heading) == anchor
