"""Warnings given when a course is registered after surgery: the pitfalls of the operation.

Pure: no ORM, no clock. The staging module (``treatments.staging``) decides stage and grade
and refuses contradictions; this module only warns, with the source of each warning.
"""

from __future__ import annotations

from typing import Final

from .machine import GuardResult

MIN_NODES_EXAMINED: Final = 8


def registration_warnings(*, nodes_examined: int, margin: str, m: str) -> list[GuardResult]:
    """What a coordinator is warned about when a course is registered after surgery.

    ``nodes_examined`` is the count of lymph nodes in the specimen, ``margin`` "R0", "R1" or
    "R2", ``m`` the AJCC M category ("M0", "M1a", ...). Returns non-blocking GuardResults, in
    this order: too few nodes, an incomplete margin, distant metastasis (docs/clinical-rules.md#pitfalls). Nothing here refuses a registration.
    """
    warnings = []
    if nodes_examined < MIN_NODES_EXAMINED:
        warnings.append(
            GuardResult(
                guard="too_few_lymph_nodes_examined",
                reason=f"Only {nodes_examined} lymph nodes were examined; adequate "
                f"lymphadenectomy examines at least {MIN_NODES_EXAMINED} (ileal NETs spread to "
                "regional nodes, and inadequate dissection raises the risk of recurrence).",
                source="Surgical consensus; guideline summary 2025 (pitfalls)",
                evidence="expert consensus (no level given)",
                overridable=True,
                blocking=False,
            )
        )
    if margin in ("R1", "R2"):
        warnings.append(
            GuardResult(
                guard="incomplete_resection_margin",
                reason=f"The margin is {margin}: surveillance assumes a complete (R0) resection; "
                "the plan is set to high risk where R1 applies.",
                source="Guideline summary 2025; ESMO 2020",
                evidence="guideline summary (no level given)",
                overridable=True,
                blocking=False,
            )
        )
    if m != "M0":
        warnings.append(
            GuardResult(
                guard="distant_metastasis_at_registration",
                reason="Distant metastasis is recorded on a course registered after complete "
                "resection; check that every site was resected.",
                source="AJCC 8th edition; docs/clinical-rules.md#pitfalls",
                evidence="product rule",
                overridable=True,
                blocking=False,
            )
        )
    return warnings


NED: Final = "ned"
RESIDUAL: Final = "residual"


def disease_after_surgery(*, margin: str, given: str | None) -> tuple[str | None, str | None]:
    """Whether the surgery that opened the course left disease: (value, error message).

    ``given`` is what the registration said ("ned", "residual" or None). A gross residual
    margin (R2) leaves disease: it defaults to "residual" and "ned" is a contradiction;
    otherwise the default is "ned". With distant metastasis (M1) "ned" means every site was
    resected, which the registration service asks a note for, as before version 2. A residual
    course starts in ``residual_disease``, a decision pending, instead of surveillance
    (docs/clinical-rules.md#states-and-transitions). The error, when there is one, belongs
    to "surgery.disease_after_surgery".
    """
    if given == NED and margin == "R2":
        return None, (
            "An R2 margin leaves macroscopic tumour: the disease after surgery is residual, "
            "not ned."
        )
    if given is not None:
        return given, None
    return (RESIDUAL if margin == "R2" else NED), None
