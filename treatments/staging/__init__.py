"""Staging and grading of small-intestine neuroendocrine tumours (pure, no database).

Each rule is encoded once here, with its source, so that the registration service, the admin
and any import path ask the same code, and the API and the admin can show where a value came
from:

- ``ajcc_stage``: the AJCC Cancer Staging Manual, 8th edition. The jejunum and ileum NET table
  stages the jejunum, the ileum and ``ileocecal`` (the terminal ileum at the ileocecal
  region); the colon and rectum NET table stages ``ileocecal_valve`` and ``cecum`` primaries
  (ICD-O-3 topography C18.0). Other primary sites are refused rather than staged with the
  wrong table.
- ``node_issues``: N must agree with the node counts and the mesenteric mass (the N
  definitions of the table in use).
- ``assess``: the whole registration view of a diagnosis: stage system, stage (none for NEC
  and MiNEN, which AJCC stages with its carcinoma chapters), the ``(m)`` display of
  multifocal primaries, refusals and plausibility warnings.
- ``who_grade``: the WHO 2019 classification of gastroenteropancreatic neuroendocrine
  neoplasms; ``grade_warnings`` flags combinations that classification makes implausible.
- ``clinical_date_issue``: nothing clinical is dated before the patient's birth date, nor
  before 1900.

Bad input raises (or, in ``assess``, collects) ``StagingError`` carrying the field name and a
machine-readable code, so a service can turn it into a 400 field error without parsing the
messa

A package of three parts: ``tables`` (stage systems, the AJCC tables, the vocabulary,
multifocal T), ``grading`` (N against the nodes, WHO grade, T against size) and
``assessment`` (``assess``, ``clinical_date_issue``). Everything public is importable from
``treatments.staging``.
"""

from .assessment import (
    Assessment,
    assess,
    clinical_date_issue,
)
from .grading import (
    grade_warnings,
    node_issues,
    who_grade,
)
from .tables import (
    AJCC_SOURCE,
    ALL_STAGES,
    ALL_T_VALUES,
    COLON_RECTUM_NET,
    COLON_RECTUM_NET_SITES,
    COLON_RECTUM_SOURCE,
    COLON_STAGES,
    COLON_T_VALUES,
    DATE_SOURCE,
    DIFFERENTIATION,
    EARLIEST_CLINICAL_DATE,
    GRADES,
    JEJUNUM_ILEUM,
    JEJUNUM_ILEUM_SITES,
    M_VALUES,
    N_VALUES,
    OTHER_SITES,
    STAGE_SYSTEMS,
    STAGES,
    SUPPORTED_SITES,
    T_VALUES,
    TUMOUR_COUNT_MAX,
    TUMOUR_SIZE_MAX_MM,
    UNSUPPORTED,
    WHO_SOURCE,
    Notice,
    StagingError,
    ajcc_stage,
    risk_stage,
    split_multifocal,
    stage_system_for,
    t_display,
)

__all__ = [
    "AJCC_SOURCE",
    "ALL_STAGES",
    "ALL_T_VALUES",
    "COLON_RECTUM_NET",
    "COLON_RECTUM_NET_SITES",
    "COLON_RECTUM_SOURCE",
    "COLON_STAGES",
    "COLON_T_VALUES",
    "DATE_SOURCE",
    "DIFFERENTIATION",
    "EARLIEST_CLINICAL_DATE",
    "GRADES",
    "JEJUNUM_ILEUM",
    "JEJUNUM_ILEUM_SITES",
    "M_VALUES",
    "N_VALUES",
    "OTHER_SITES",
    "STAGES",
    "STAGE_SYSTEMS",
    "SUPPORTED_SITES",
    "TUMOUR_COUNT_MAX",
    "TUMOUR_SIZE_MAX_MM",
    "T_VALUES",
    "UNSUPPORTED",
    "WHO_SOURCE",
    "Assessment",
    "Notice",
    "StagingError",
    "ajcc_stage",
    "assess",
    "clinical_date_issue",
    "grade_warnings",
    "node_issues",
    "risk_stage",
    "split_multifocal",
    "stage_system_for",
    "t_display",
    "who_grade",
]
