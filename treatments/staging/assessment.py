"""The registration view of a diagnosis (``assess``) and the earliest clinical date.

Pure, no database. ``assess`` asks the tables and the grading rules and collects every
refusal and warning at once, keyed "section.field", so a registration answers one 400 with
all its mistakes (docs/clinical-rules.md#staging-input).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .grading import (
    _size_issues,
    grade_warnings,
    node_issues,
    who_grade,
)
from .tables import (
    COLON_RECTUM_NET,
    EARLIEST_CLINICAL_DATE,
    N_VALUES,
    UNSUPPORTED,
    UNSUPPORTED_SOURCE,
    Notice,
    StagingError,
    _tumour_count,
    ajcc_stage,
    split_multifocal,
    stage_system_for,
    t_display,
)

# --- The registration view of a diagnosis ---------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What ``assess`` found: the stored values, the refusals and the warnings.

    ``errors`` maps a section-qualified field ("diagnosis.n", "surgery.nodes_positive") to
    its messages; when it is empty the other values are set (``stage`` None only for an
    ``unsupported`` stage system, ``tumour_count`` None only for "(m)" given without a count).
    """

    stage_system: str | None = None
    stage: str | None = None
    grade: str | None = None
    t: str | None = None
    tumour_count: int | None = None
    t_display: str | None = None
    warnings: tuple[Notice, ...] = ()
    errors: dict[str, list[str]] = field(default_factory=dict)


def assess(
    *,
    primary_site: object,
    differentiation: object,
    t: object,
    n: object,
    m: object,
    ki67_percent: float | None = None,
    mitoses_per_2mm2: float | None = None,
    tumour_count: object = None,
    tumour_size_mm: float | None = None,
    mesenteric_mass_over_2cm: bool = False,
    nodes_examined: int | None = None,
    nodes_positive: int | None = None,
) -> Assessment:
    """Stage, grade and check one diagnosis with its node counts; never raises for bad data.

    Sources: AJCC 8th edition jejunum/ileum and colon/rectum NET tables (``ajcc_stage``,
    ``node_issues``, multiple primaries), the AJCC scope of its NET chapters for NEC and MiNEN
    (stage None, system ``unsupported``, a warning naming the carcinoma chapter that applies),
    WHO 2019 (``who_grade``, ``grade_warnings``). ``t`` may carry the multiple-primary suffix
    ("T3(m)", "T3(2)"). Sizes in mm, Ki-67 in %, mitoses per 2 mm².
    """
    errors: dict[str, list[str]] = {}

    def add(exc: StagingError) -> None:
        errors.setdefault(f"{exc.section}.{exc.field}", []).append(exc.message)

    base_t, suffix = split_multifocal(t)
    count: int | None = 1
    count_errors: list[StagingError] = []
    if isinstance(base_t, str):
        count, count_errors = _tumour_count(base_t, suffix, tumour_count)
    for exc in count_errors:
        add(exc)

    system = None
    try:
        system = stage_system_for(primary_site, differentiation)
    except StagingError as exc:
        add(exc)
    grade = None
    try:
        grade = who_grade(differentiation, ki67_percent, mitoses_per_2mm2)  # type: ignore[arg-type]
    except StagingError as exc:
        add(exc)

    stage: str | None = None
    # The NET table of the site checks T, N and M even for NEC and MiNEN (which it does not
    # stage): a value no table has is an entry error whatever the differentiation.
    table_system = None if system is None else stage_system_for(primary_site)
    if system is not None and table_system is not None:
        try:
            stage = ajcc_stage(base_t, n, m, primary_site=primary_site)  # type: ignore[arg-type]
        except StagingError as exc:
            # N2 on the colon table is reported once, by node_issues.
            if exc.code != "not_in_table":
                add(exc)
        if isinstance(n, str) and n in N_VALUES:
            try:
                for exc in node_issues(
                    system=system,
                    n=n,
                    nodes_examined=nodes_examined,
                    nodes_positive=nodes_positive,
                    mesenteric_mass_over_2cm=mesenteric_mass_over_2cm,
                ):
                    add(exc)
            except StagingError as exc:
                add(exc)
        if isinstance(base_t, str):
            for exc in _size_issues(table_system, base_t, tumour_size_mm):
                add(exc)

    warnings: list[Notice] = []
    if grade is not None:
        warnings += grade_warnings(differentiation, ki67_percent, mitoses_per_2mm2)  # type: ignore[arg-type]
    if errors:
        return Assessment(errors=errors)
    if system == UNSUPPORTED:
        chapter = (
            "colon and rectum (carcinoma)"
            if table_system == COLON_RECTUM_NET
            else "small intestine (carcinoma)"
        )
        warnings.insert(
            0,
            Notice(
                "stage_system_unsupported",
                f"{grade} is staged by AJCC 8th edition with its {chapter} chapter, not the "
                "NET tables; that chapter is not encoded here, so no stage is given. Stage it "
                "by that chapter in the clinical record.",
                UNSUPPORTED_SOURCE,
            ),
        )
        stage = None
    if not isinstance(base_t, str):  # ajcc_stage refused t already
        return Assessment(errors={"diagnosis.t": ["T is not valid."]})
    return Assessment(
        stage_system=system,
        stage=stage,
        grade=grade,
        t=base_t,
        tumour_count=count,
        t_display=t_display(base_t, count),
        warnings=tuple(warnings),
    )


# --- Dates ---------------------------------------------------------------------------------


def clinical_date_issue(value: object, *, birth_date: dt.date | None) -> str | None:
    """Why a clinical date (diagnosis, surgery, result, event) cannot be right, or None.

    Source: data integrity: nothing clinical happens before the patient is born, and nobody
    followed today was born before 1900, so an earlier date is a typing error (a digit swap
    such as 1916 for 1961, or 0001-01-02). ``birth_date`` None checks the 1900 floor only.
    Dates in the future are the callers' own rule (each says what may not be in the future).
    """
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        return None
    if value < EARLIEST_CLINICAL_DATE:
        return f"Cannot be before {EARLIEST_CLINICAL_DATE.isoformat()}."
    if isinstance(birth_date, dt.date) and value < birth_date:
        return f"Cannot be before the patient's birth date ({birth_date.isoformat()})."
    return None
