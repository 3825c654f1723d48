"""The shape of a guard and of its answer, and the rules that make an event absent from a state.

Pure data: each guard carries its reason, its published source, its evidence label and
whether a clinician may override it, so the API, the admin and the generated rule book
(docs/clinical-rules.md#guard-table) all show the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..rules_version import RULE_VERSION
from .facts import CourseFacts
from .states import EventType


@dataclass(frozen=True)
class GuardResult:
    """Why an event is refused or warned about, with its source and evidence level.

    ``rule_version`` is the clinical rule set that produced the answer
    (docs/clinical-rules.md#rule-versions); it is stored with the event's warnings.
    """

    guard: str
    reason: str
    source: str
    evidence: str
    overridable: bool
    blocking: bool
    rule_version: str = RULE_VERSION

    def as_dict(self) -> dict[str, Any]:
        """The result as stored and answered: guard, reason, source, evidence, overridable,
        blocking and rule_version."""
        return {
            "guard": self.guard,
            "reason": self.reason,
            "source": self.source,
            "evidence": self.evidence,
            "overridable": self.overridable,
            "blocking": self.blocking,
            "rule_version": self.rule_version,
        }


@dataclass(frozen=True)
class Guard:
    """A named precondition of one event.

    ``holds`` returns True when the event may go ahead; a guard that does not apply to the
    data (the platinum rule for a temozolomide regimen) holds. A non-blocking guard is a
    warning: it never refuses, so it needs no override (``overridable`` is True).
    """

    name: str
    event: EventType
    reason: str
    source: str
    evidence: str
    blocking: bool
    overridable: bool
    holds: Callable[[CourseFacts, Mapping[str, Any]], bool] = field(compare=False, repr=False)

    def result(self) -> GuardResult:
        return GuardResult(
            guard=self.name,
            reason=self.reason,
            source=self.source,
            evidence=self.evidence,
            overridable=self.overridable,
            blocking=self.blocking,
        )


Check = Callable[[CourseFacts, Mapping[str, Any]], bool]


def refuse(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A blocking guard a clinician may override with a written reason."""
    return Guard(
        name, event, reason, source, evidence, blocking=True, overridable=True, holds=holds
    )


def warn(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A warning: shown with the decision, never refuses."""
    return Guard(
        name, event, reason, source, evidence, blocking=False, overridable=True, holds=holds
    )


def refuse_always(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A blocking guard nobody may override (a fact of the record, not a clinical choice)."""
    return Guard(
        name, event, reason, source, evidence, blocking=True, overridable=False, holds=holds
    )


# Why an event is absent from the table for a state. Neither can be overridden: they are the
# 409 "not allowed from this state", not the 422 "guideline guard".
ADJUVANT_RULE: Final = GuardResult(
    guard="no_adjuvant_therapy_after_complete_resection",
    reason="No systemic therapy is started after complete resection without a recorded "
    "recurrence; record the recurrence first.",
    source="ESMO 2020; ENETS (no adjuvant therapy outside trials); guideline summary 2025",
    evidence="LoE 4, grade D",
    overridable=False,
    blocking=True,
)
CLOSED_RULE: Final = GuardResult(
    guard="course_closed_is_final",
    reason="Nothing is recorded after a course is closed.",
    source="NetCare course state machine (docs/clinical-rules.md#states-and-transitions): "
    "closed is terminal",
    evidence="product rule",
    overridable=False,
    blocking=True,
)
PROCEDURE_RULE: Final = GuardResult(
    guard="procedure_implies_known_disease",
    reason="A liver-directed procedure or radiotherapy treats known disease; record the "
    "recurrence first.",
    source="NetCare course state machine (docs/clinical-rules.md#procedures-and-supportive-care)",
    evidence="product rule",
    overridable=False,
    blocking=True,
)
