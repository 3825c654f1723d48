"""The payload of each event type, one pydantic model each (docs/api.md#event-types).

Declared here once; ``treatments.payloads`` validates with them, publishes their JSON Schema
and lists their fields for forms. Strict on purpose: unknown keys are errors, numbers must be
JSON numbers, dates real calendar days; a few payloads also check fields against each other
(``field_errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from .machine import (
    BEST_RESPONSES,
    CHEMOTHERAPY_REGIMENS,
    CLOSE_REASONS,
    DIFFERENTIATIONS,
    LINE_CHANGES,
    MARGINS,
    PROCEDURE_TARGETS,
    PROCEDURES,
    PRRT_AGENTS,
    RECURRENCE_SITES,
    SSA_AGENTS,
    SSA_INTENTS,
    SSTR_RESULTS,
    SSTR_UPTAKE,
    STOP_REASONS,
    WATCHFUL_WAITING_RATIONALES,
    EventType,
)
from .payload_fields import (
    CalendarDay,
    Flag,
    number,
    percent,
    record_id,
    text,
    whole,
)

# --------------------------------------------------------------------------------------------
# The payload of each event type (docs/api.md#event-types)
# --------------------------------------------------------------------------------------------


class EventData(BaseModel):
    """Base of every payload: unknown keys are refused, nothing is coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def field_errors(self) -> dict[str, str]:
        """Errors that need several fields to see (a change without its new value), by field."""
        return {}


class RecurrenceDetectedData(EventData):
    """A recurrence found after surgery: where, and whether the tumour board can resect it."""

    site: Literal[RECURRENCE_SITES] = Field(
        description="Where the recurrence was found.", examples=["liver"]
    )
    resectable: Flag = Field(
        description="Judged resectable by the tumour board (locoregional or oligometastatic "
        "disease); a re-resection is refused otherwise.",
        examples=[True],
    )


class ResectionStartedData(EventData):
    """A re-resection is planned for a recurrence judged resectable."""

    procedure: text(max_length=200) = Field(
        description="The planned operation, in words.", examples=["mesenteric lymphadenectomy"]
    )
    planned_on: CalendarDay | None = Field(
        None, description="The planned day of the operation.", examples=["2026-09-01"]
    )


class ResectionCompletedData(EventData):
    """The re-resection was done; the course returns to surveillance only when `ned`."""

    performed_on: CalendarDay = Field(
        description="The day of the operation; surveillance is re-anchored on it, so it may "
        "be neither in the future nor before the surgery that opened the course.",
        examples=["2026-09-01"],
    )
    margin: Literal[MARGINS] = Field(
        description="Resection margin: R0 none, R1 microscopic, R2 macroscopic residual tumour.",
        examples=["R0"],
    )
    ned: Flag = Field(
        description="No evidence of disease after the operation: true returns the course to "
        "surveillance, false to recurrence.",
        examples=[True],
    )


class SsaStartedData(EventData):
    """A somatostatin-analogue line starts (octreotide LAR or lanreotide)."""

    agent: Literal[SSA_AGENTS] = Field(
        description="The somatostatin analogue.", examples=["lanreotide"]
    )
    dose_mg: number(above=0, up_to=1000) = Field(
        description="Dose per injection. The labelled doses (octreotide LAR 20 or 30 mg, "
        "lanreotide 120 mg) are a guideline guard, not a payload check.",
        examples=[120],
        json_schema_extra={"x-unit": "mg"},
    )
    interval_days: whole(low=1, high=365) = Field(
        description="Days between injections (28 on the label).",
        examples=[28],
        json_schema_extra={"x-unit": "days"},
    )
    intent: Literal[SSA_INTENTS] | None = Field(
        None,
        description="Why the SSA is given: antiproliferative (the default when absent) or "
        "syndrome_control (needs a functional tumour or carcinoid syndrome on record; lower "
        "doses are then allowed).",
        examples=["antiproliferative"],
    )


class ProgressionDetectedData(EventData):
    """Progressive disease (RECIST 1.1) on the running line; the line ends with it."""

    recist: Literal["PD"] = Field(
        description="RECIST 1.1 response category: PD, progressive disease.", examples=["PD"]
    )
    imaging_study: record_id("surveillance.ImagingStudy") | None = Field(
        None, description="Id of this course's imaging study that showed it.", examples=[41]
    )


class PrrtStartedData(EventData):
    """Peptide receptor radionuclide therapy starts (177Lu-DOTATATE)."""

    agent: Literal[PRRT_AGENTS] = Field(
        description="The radiopharmaceutical.", examples=["lu177_dotatate"]
    )
    activity_gbq: number(above=0, up_to=50) = Field(
        description="Activity per cycle. The label's 3.7-7.4 GBq is a guideline guard, not a "
        "payload check.",
        examples=[7.4],
        json_schema_extra={"x-unit": "GBq"},
    )
    cycles_planned: whole(low=1, high=10) = Field(
        description="Cycles planned (4 on the label; more is warned about as retreatment).",
        examples=[4],
        json_schema_extra={"x-unit": "cycles"},
    )
    continue_ssa: Flag | None = Field(
        None,
        description="Keep the running somatostatin-analogue line open beside this line. When "
        "absent: true (the label gives octreotide LAR after each cycle).",
        examples=[True],
    )


class EverolimusStartedData(EventData):
    """Everolimus starts, for progressive disease."""

    dose_mg: number(above=0, up_to=100) = Field(
        description="Daily dose (10 mg, or 5 mg as a reduction, on the label).",
        examples=[10],
        json_schema_extra={"x-unit": "mg"},
    )
    continue_ssa: Flag | None = Field(
        None,
        description="Keep the running somatostatin-analogue line open beside this line. When "
        "absent: true when the tumour is functional or carcinoid syndrome is "
        "recorded, else false.",
        examples=[True],
    )


class ChemotherapyStartedData(EventData):
    """A chemotherapy line starts."""

    regimen: Literal[CHEMOTHERAPY_REGIMENS] = Field(
        description="The regimen; platinum-etoposide is for poorly differentiated carcinoma.",
        examples=["capecitabine_temozolomide"],
    )
    continue_ssa: Flag | None = Field(
        None,
        description="Keep the running somatostatin-analogue line open beside this line. When "
        "absent: true when the tumour is functional or carcinoid syndrome is "
        "recorded, else false.",
        examples=[True],
    )


class SupportiveCareStartedData(EventData):
    """Best supportive care starts; nothing else is recorded with it."""


class WatchfulWaitingStartedData(EventData):
    """Known disease is observed without an anticancer line (watch and wait)."""

    rationale: Literal[WATCHFUL_WAITING_RATIONALES] = Field(
        description="Why the disease is observed rather than treated.",
        examples=["low_volume_stable"],
    )


_LINE_ID_DESCRIPTION: Final = (
    "Id of the open treatment line; required when more than one line is open, else the open one."
)


class LineChangedData(EventData):
    """An open line changes: dose, agent (SSA only), interval, hold or resume."""

    line: record_id("treatments.TreatmentLine") | None = Field(
        None, description=_LINE_ID_DESCRIPTION, examples=[7]
    )
    change: Literal[LINE_CHANGES] = Field(description="What changes.", examples=["interval"])
    agent: Literal[SSA_AGENTS] | None = Field(
        None, description="The new somatostatin analogue (change agent).", examples=["lanreotide"]
    )
    dose_mg: number(above=0, up_to=1000) | None = Field(
        None,
        description="The new dose (change dose; optional with change agent).",
        examples=[120],
        json_schema_extra={"x-unit": "mg"},
    )
    interval_days: whole(low=1, high=365) | None = Field(
        None,
        description="The new days between doses (change interval); injections follow it.",
        examples=[14],
        json_schema_extra={"x-unit": "days"},
    )

    def field_errors(self) -> dict[str, str]:
        needed = {"dose": "dose_mg", "agent": "agent", "interval": "interval_days"}
        errors = {}
        wanted = needed.get(self.change)
        if wanted is not None and getattr(self, wanted) is None:
            errors[wanted] = f"This field is required when change is {self.change}."
        if self.change in ("hold", "resume"):
            for name in ("agent", "dose_mg", "interval_days"):
                if getattr(self, name) is not None:
                    errors[name] = f"Must be absent when change is {self.change}."
        return errors


class PrrtCycleGivenData(EventData):
    """A further PRRT cycle was given (``prrt_started`` is cycle 1)."""

    cycle: whole(low=1, high=8) = Field(
        description="The cycle's number: the next after the last recorded.",
        examples=[2],
        json_schema_extra={"x-unit": "cycles"},
    )
    activity_gbq: number(above=0, up_to=50) = Field(
        description="Activity given. The label's 3.7-7.4 GBq is a guideline guard.",
        examples=[7.4],
        json_schema_extra={"x-unit": "GBq"},
    )
    given_on: CalendarDay | None = Field(
        None,
        description="The day the cycle was given (the event's occurred_on when absent).",
        examples=["2026-11-02"],
    )


class LineCompletedData(EventData):
    """The line of the course's state is complete (PRRT cycles given, chemotherapy done)."""

    best_response: Literal[BEST_RESPONSES] = Field(
        description="Best response on the line; progression sends the course to progression.",
        examples=["partial_response"],
    )


class LineStoppedData(EventData):
    """An open line is stopped before it is complete."""

    line: record_id("treatments.TreatmentLine") | None = Field(
        None, description=_LINE_ID_DESCRIPTION, examples=[7]
    )
    reason: Literal[STOP_REASONS] = Field(description="Why it stopped.", examples=["toxicity"])


class ProcedureRecordedData(EventData):
    """A liver-directed procedure, radiotherapy or cholecystectomy, beside the course's line."""

    procedure: Literal[PROCEDURES] = Field(description="The procedure.", examples=["tace"])
    target: Literal[PROCEDURE_TARGETS] = Field(description="What it treated.", examples=["liver"])


_FINDINGS: Final = (
    "sstr_imaging",
    "carcinoid_syndrome",
    "functional",
    "carcinoid_heart_disease",
    "ki67_percent",
    "differentiation",
)


class StatusUpdatedData(EventData):
    """A new finding: an SSTR scan, a syndrome, carcinoid heart disease or a re-biopsy."""

    sstr_imaging: Literal[SSTR_RESULTS] | None = Field(
        None, description="Result of a new somatostatin-receptor scan.", examples=["positive"]
    )
    sstr_uptake_vs_liver: Literal[SSTR_UPTAKE] | None = Field(
        None,
        description="Tumour uptake on that scan compared with normal liver (PRRT needs at "
        "least equal).",
        examples=["above"],
    )
    study_on: CalendarDay | None = Field(
        None, description="The day of the scan.", examples=["2026-10-15"]
    )
    carcinoid_syndrome: Flag | None = Field(
        None,
        description="Carcinoid syndrome is now present (true) or gone (false).",
        examples=[True],
    )
    functional: Flag | None = Field(
        None, description="The tumour is now judged functional.", examples=[True]
    )
    carcinoid_heart_disease: Flag | None = Field(
        None,
        description="Carcinoid heart disease established on echocardiography.",
        examples=[False],
    )
    ki67_percent: percent() | None = Field(
        None,
        description="Ki-67 index of a re-biopsy.",
        examples=[12],
        json_schema_extra={"x-unit": "%"},
    )
    differentiation: Literal[DIFFERENTIATIONS] | None = Field(
        None, description="Differentiation on a re-biopsy.", examples=["well"]
    )

    def field_errors(self) -> dict[str, str]:
        errors = {}
        if all(getattr(self, name) is None for name in _FINDINGS):
            errors["data"] = f"Give at least one finding: {', '.join(_FINDINGS)}."
        for name in ("sstr_uptake_vs_liver", "study_on"):
            if getattr(self, name) is not None and self.sstr_imaging is None:
                errors[name] = "Give sstr_imaging with it."
        return errors


class SymptomsReportedData(EventData):
    """Symptoms were reported; the course stays in its state."""

    symptom_check: record_id("surveillance.SymptomCheck") | None = Field(
        None, description="Id of this course's symptom check that reported them.", examples=[12]
    )


class CourseClosedData(EventData):
    """The course is closed; nothing is recorded after it."""

    reason: Literal[CLOSE_REASONS] = Field(
        description="Why the course closed.", examples=["surveillance_completed"]
    )


DATA_MODELS: Final[Mapping[EventType, type[EventData]]] = {
    EventType.RECURRENCE_DETECTED: RecurrenceDetectedData,
    EventType.RESECTION_STARTED: ResectionStartedData,
    EventType.RESECTION_COMPLETED: ResectionCompletedData,
    EventType.SSA_STARTED: SsaStartedData,
    EventType.PROGRESSION_DETECTED: ProgressionDetectedData,
    EventType.PRRT_STARTED: PrrtStartedData,
    EventType.EVEROLIMUS_STARTED: EverolimusStartedData,
    EventType.CHEMOTHERAPY_STARTED: ChemotherapyStartedData,
    EventType.SUPPORTIVE_CARE_STARTED: SupportiveCareStartedData,
    EventType.WATCHFUL_WAITING_STARTED: WatchfulWaitingStartedData,
    EventType.LINE_CHANGED: LineChangedData,
    EventType.PRRT_CYCLE_GIVEN: PrrtCycleGivenData,
    EventType.LINE_COMPLETED: LineCompletedData,
    EventType.LINE_STOPPED: LineStoppedData,
    EventType.PROCEDURE_RECORDED: ProcedureRecordedData,
    EventType.STATUS_UPDATED: StatusUpdatedData,
    EventType.SYMPTOMS_REPORTED: SymptomsReportedData,
    EventType.COURSE_CLOSED: CourseClosedData,
}
