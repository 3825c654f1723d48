"""The terminology of the FHIR export: code systems, mCODE profile and extension addresses, and
the maps from the course's own words to codes.

Pure data, no database. Each table names where its codes come from:

- mCODE STU 4 (HL7 FHIR implementation guide, version 4.0.0): profile and extension ids, the
  value sets TNMStageGroupStagingTypeVS, TNMStagingMethodVS, the T/N/M staging types,
  ConditionStatusTrendVS, CancerDiseaseStatusEvidenceTypeVS, TreatmentTerminationReasonVS,
  ProcedureIntentVS, HistologicGradeVS and TumorMarkerTestVS;
- ICD-10-CM (the C7A malignant carcinoid codes by site, C7A.1 for poorly differentiated
  neuroendocrine carcinoma); ICD-O-3 topography (body site) and morphology (histology);
- LOINC for the laboratory tests, UCUM for their units.

A value with no verified code is sent as text only (``CodeableConcept.text``): drug names
among them, as their RxNorm ingredient codes were not verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

# --- code systems ---------------------------------------------------------------------------

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"
AJCC: Final = "http://cancerstaging.org"
NCIT: Final = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
IDENTIFIER_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
LANGUAGE: Final = "urn:ietf:bcp:47"

# --- mCODE STU 4 profiles and extensions ------------------------------------------------------

_MCODE: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE_BUNDLE: Final = _MCODE + "mcode-patient-bundle"
PROFILE_PATIENT: Final = _MCODE + "mcode-cancer-patient"
PROFILE_PRIMARY_CANCER: Final = _MCODE + "mcode-primary-cancer-condition"
PROFILE_STAGE_GROUP: Final = _MCODE + "mcode-tnm-stage-group"
PROFILE_T: Final = _MCODE + "mcode-tnm-primary-tumor-category"
PROFILE_N: Final = _MCODE + "mcode-tnm-regional-nodes-category"
PROFILE_M: Final = _MCODE + "mcode-tnm-distant-metastases-category"
PROFILE_GRADE: Final = _MCODE + "mcode-histologic-grade"
PROFILE_TUMOR_MARKER: Final = _MCODE + "mcode-tumor-marker-test"
PROFILE_DISEASE_STATUS: Final = _MCODE + "mcode-cancer-disease-status"
PROFILE_MEDICATION_REQUEST: Final = _MCODE + "mcode-cancer-related-medication-request"
PROFILE_MEDICATION_ADMINISTRATION: Final = _MCODE + "mcode-cancer-related-medication-administration"
PROFILE_SURGICAL_PROCEDURE: Final = _MCODE + "mcode-cancer-related-surgical-procedure"
EXT_HISTOLOGY: Final = _MCODE + "mcode-histology-morphology-behavior"
EXT_EVIDENCE_TYPE: Final = _MCODE + "mcode-cancer-disease-status-evidence-type"
EXT_TREATMENT_INTENT: Final = _MCODE + "mcode-procedure-intent"
EXT_RELATED_CONDITION: Final = _MCODE + "mcode-related-condition"


class Code(NamedTuple):
    """One coding: system, code and display."""

    system: str
    code: str
    display: str


# --- the primary cancer ------------------------------------------------------------------------

# ICD-10-CM malignant carcinoid tumours by primary site. `ileocecal` is the terminal ileum; the
# ileocecal valve is part of the caecum (ICD-O-3 C18.0).
ICD10_BY_SITE: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "ileum": Code(ICD10CM, "C7A.012", "Malignant carcinoid tumor of the ileum"),
        "ileocecal": Code(ICD10CM, "C7A.012", "Malignant carcinoid tumor of the ileum"),
        "jejunum": Code(ICD10CM, "C7A.011", "Malignant carcinoid tumor of the jejunum"),
        "ileocecal_valve": Code(ICD10CM, "C7A.021", "Malignant carcinoid tumor of the cecum"),
        "cecum": Code(ICD10CM, "C7A.021", "Malignant carcinoid tumor of the cecum"),
    }
)
ICD10_SMALL_INTESTINE_NOS: Final = Code(
    ICD10CM, "C7A.019", "Malignant carcinoid tumor of the small intestine, unspecified portion"
)
ICD10_POORLY_DIFFERENTIATED: Final = Code(
    ICD10CM, "C7A.1", "Malignant poorly differentiated neuroendocrine tumors"
)

SITE_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ileocecal": "terminal ileum (ileocecal region)",
        "ileocecal_valve": "ileocecal valve",
        "cecum": "caecum",
    }
)

# ICD-O-3 topography of the primary site (mCODE CancerBodyLocationVS admits ICD-O-3).
BODY_SITE: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "jejunum": Code(ICDO3, "C17.1", "Jejunum"),
        "ileum": Code(ICDO3, "C17.2", "Ileum"),
        "ileocecal": Code(ICDO3, "C17.2", "Ileum"),
        "ileocecal_valve": Code(ICDO3, "C18.0", "Cecum"),
        "cecum": Code(ICDO3, "C18.0", "Cecum"),
    }
)

# ICD-O-3 morphology of the WHO 2019 classification of digestive neuroendocrine neoplasms:
# NET G1 8240/3, NET G2 and G3 8249/3, NEC 8246/3, MiNEN 8154/3.
HISTOLOGY_BY_GRADE: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "G1": Code(ICDO3, "8240/3", "Neuroendocrine tumor, grade 1"),
        "G2": Code(ICDO3, "8249/3", "Neuroendocrine tumor, grade 2"),
        "G3": Code(ICDO3, "8249/3", "Neuroendocrine tumor, grade 3"),
        "NEC": Code(ICDO3, "8246/3", "Neuroendocrine carcinoma, NOS"),
        "MiNEN": Code(ICDO3, "8154/3", "Mixed neuroendocrine non-neuroendocrine neoplasm"),
    }
)

# --- staging (mCODE STU 4 TNM value sets) ------------------------------------------------------

PATHOLOGIC_STAGE_GROUP: Final = Code(SNOMED, "399588009", "Pathologic TNM stage grouping")
AJCC_8TH: Final = Code(
    SNOMED,
    "897275008",
    "American Joint Commission on Cancer, Cancer Staging Manual, 8th edition neoplasm staging "
    "system (tumor staging)",
)
PATHOLOGIC_T: Final = Code(SNOMED, "384625004", "pT category")
PATHOLOGIC_N: Final = Code(SNOMED, "371494008", "pN category")
# AJCC has no pM0: the pathological stage group is built from pT, pN and the clinical M
# (cM0, or pM1 when a metastasis was examined), so M is reported as the general M category.
M_CATEGORY: Final = Code(SNOMED, "277208005", "M category")

# AJCC codes of a stage group: arabic numerals and the letter ("IIIB" is 3B).
_ROMAN: Final = {"IV": "4", "III": "3", "II": "2", "I": "1"}


def ajcc_stage_code(stage: str) -> str | None:
    """The AJCC code of a stage group ("I" -> "1", "IIIB" -> "3B"); None for "unknown" or
    anything that is not a stage group."""
    for roman, arabic in _ROMAN.items():
        if stage.startswith(roman) and stage[len(roman) :] in ("", "A", "B", "C"):
            return arabic + stage[len(roman) :]
    return None


# --- grade (mCODE HistologicGrade profile, HistologicGradeVS) ----------------------------------

HISTOLOGIC_GRADE: Final = Code(NCIT, "C18000", "Histologic Grade")
# WHO 2019: G1 is low grade, G2 intermediate, G3 and the neuroendocrine carcinomas high grade.
# MiNEN is graded by component: text only.
GRADE_VALUE: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "G1": Code(SNOMED, "1155708003", "Low histologic grade (qualifier value)"),
        "G2": Code(SNOMED, "1286893008", "Intermediate histologic grade (qualifier value)"),
        "G3": Code(SNOMED, "1155707008", "High histologic grade (qualifier value)"),
        "NEC": Code(SNOMED, "1155707008", "High histologic grade (qualifier value)"),
    }
)
KI67: Final = Code(LOINC, "29593-1", "Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain")

# --- laboratory results ------------------------------------------------------------------------


class LabCode(NamedTuple):
    """The LOINC code of one analyte measured in one unit, its UCUM unit, and whether it is a
    tumour marker (mCODE TumorMarkerTestVS)."""

    code: Code | None  # None: no verified code for this analyte in this unit (text only)
    ucum: str
    tumour_marker: bool = False


_CGA_MASS = Code(LOINC, "9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma")
_HIAA_MASS = Code(LOINC, "1695-6", "5-Hydroxyindoleacetate [Mass/time] in 24 hour Urine")
_NTPROBNP = Code(
    LOINC, "33762-6", "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma"
)

# (analyte, stored unit) -> code. The LOINC code depends on the property measured (mass, moles,
# units), so the unit picks it. The stored unit spellings are those of
# surveillance.schedule.results.LAB_ANALYTES.
LAB_CODES: Final[Mapping[tuple[str, str], LabCode]] = MappingProxyType(
    {
        ("chromogranin_a", "ng/mL"): LabCode(_CGA_MASS, "ng/mL", True),
        ("chromogranin_a", "µg/L"): LabCode(_CGA_MASS, "ug/L", True),
        ("chromogranin_a", "nmol/L"): LabCode(
            Code(LOINC, "25587-7", "Chromogranin A [Moles/volume] in Serum or Plasma"),
            "nmol/L",
            True,
        ),
        ("chromogranin_a", "U/L"): LabCode(
            Code(
                LOINC,
                "30169-7",
                "Chromogranin A [Units/volume] in Serum or Plasma by Immunoassay",
            ),
            "U/L",
            True,
        ),
        ("u5hiaa", "mg/24h"): LabCode(_HIAA_MASS, "mg/(24.h)", True),
        ("u5hiaa", "µmol/24h"): LabCode(
            Code(LOINC, "14573-0", "5-Hydroxyindoleacetate [Moles/time] in 24 hour Urine"),
            "umol/(24.h)",
            True,
        ),
        ("nt_probnp", "pg/mL"): LabCode(_NTPROBNP, "pg/mL"),
        ("nt_probnp", "ng/L"): LabCode(_NTPROBNP, "ng/L"),
        ("vitamin_b12", "pg/mL"): LabCode(
            Code(LOINC, "2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma"),
            "pg/mL",
        ),
        ("vitamin_d", "ng/mL"): LabCode(
            Code(LOINC, "62292-8", "25-hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma"),
            "ng/mL",
        ),
        ("creatinine", "mg/dL"): LabCode(
            Code(LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"), "mg/dL"
        ),
        ("bilirubin", "mg/dL"): LabCode(
            Code(LOINC, "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma"), "mg/dL"
        ),
        ("albumin", "g/L"): LabCode(
            Code(LOINC, "1751-7", "Albumin [Mass/volume] in Serum or Plasma"), "g/L"
        ),
        ("albumin", "g/dL"): LabCode(
            Code(LOINC, "1751-7", "Albumin [Mass/volume] in Serum or Plasma"), "g/dL"
        ),
        ("alt", "U/L"): LabCode(
            Code(LOINC, "1742-6", "Alanine aminotransferase [Enzymatic activity/volume]"), "U/L"
        ),
        ("ast", "U/L"): LabCode(
            Code(LOINC, "1920-8", "Aspartate aminotransferase [Enzymatic activity/volume]"),
            "U/L",
        ),
        ("glucose", "mg/dL"): LabCode(
            Code(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"), "mg/dL"
        ),
    }
)
# UCUM spellings of the stored units without a verified LOINC code for their analyte.
UCUM_UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "µg/L": "ug/L",
        "mg/24h": "mg/(24.h)",
        "µmol/24h": "umol/(24.h)",
        "µmol/L": "umol/L",
        "10^9/L": "10*9/L",
    }
)


def lab_code(analyte: str, unit: str) -> LabCode:
    """The code of a stored lab result (LAB_CODES), or a text-only one with the UCUM unit."""
    known = LAB_CODES.get((analyte, unit))
    if known is not None:
        return known
    return LabCode(None, UCUM_UNITS.get(unit, unit))


# --- disease status per imaging result (mCODE CancerDiseaseStatus) ----------------------------

DISEASE_STATUS: Final = Code(LOINC, "97509-4", "Cancer Disease Progression")
EVIDENCE_IMAGING: Final = Code(SNOMED, "363679005", "Imaging (procedure)")
IMPROVED: Final = Code(SNOMED, "268910001", "Patient's condition improved (finding)")
STABLE: Final = Code(SNOMED, "359746009", "Patient's condition stable (finding)")
WORSENED: Final = Code(SNOMED, "271299001", "Patient's condition worsened (finding)")
UNDETERMINED: Final = Code(SNOMED, "709137006", "Patient condition undetermined (finding)")
# RECIST 1.1 responses: complete and partial response improved, stable disease stable,
# progression worsened. A recurrence (disease back after none) is a worsening; a surveillance
# scan with no evidence of disease leaves the condition as it was (stable); indeterminate is
# undetermined.
STATUS_BY_IMAGING_RESULT: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "complete_response": IMPROVED,
        "partial_response": IMPROVED,
        "stable": STABLE,
        "ned": STABLE,
        "progression": WORSENED,
        "recurrence": WORSENED,
        "indeterminate": UNDETERMINED,
    }
)

# --- treatment lines (mCODE medication profiles) -----------------------------------------------

CURATIVE: Final = Code(SNOMED, "373808002", "Curative - procedure intent")
PALLIATIVE: Final = Code(SNOMED, "363676003", "Palliative - procedure intent")
SUPPORTIVE: Final = Code(SNOMED, "399707004", "Supportive - procedure intent")


def line_intent(category: str, intent: str) -> Code:
    """The mCODE treatment intent of a line: an SSA for syndrome control is supportive; every
    other line treats unresectable or recurrent disease after the resection, so it is
    palliative (the curative treatment of this disease is the resection, a Procedure)."""
    if category == "supportive" or intent == "syndrome_control":
        return SUPPORTIVE
    return PALLIATIVE


# TreatmentTerminationReasonVS for the end reasons of a stopped line. Other reasons (switched,
# watchful waiting, no evidence of disease, transferred, discharged, other) have no code there
# and are sent as text.
TERMINATION_REASON: Final[Mapping[str, Code]] = MappingProxyType(
    {
        "progression": Code(SNOMED, "266721009", "No response to treatment (situation)"),
        "toxicity": Code(SNOMED, "407563006", "Treatment not tolerated (situation)"),
        "patient_choice": Code(SNOMED, "105480006", "Refusal of treatment by patient (situation)"),
        "lost_to_follow_up": Code(SNOMED, "399307001", "Lost to follow-up (finding)"),
        "deceased": Code(SNOMED, "419620001", "Death (event)"),
    }
)
# A line ended with one of these reasons was given in full.
COMPLETED_REASONS: Final = frozenset({"completed", "surveillance_completed"})

# Drug names (text only: ingredient codes not verified).
AGENT_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "octreotide_lar": "octreotide LAR",
        "lanreotide": "lanreotide",
        "lu177_dotatate": "lutetium (177Lu) oxodotreotide (177Lu-DOTATATE)",
        "everolimus": "everolimus",
        "temozolomide": "temozolomide",
        "capecitabine_temozolomide": "capecitabine and temozolomide",
        "cisplatin_etoposide": "cisplatin and etoposide",
        "carboplatin_etoposide": "carboplatin and etoposide",
    }
)
DOSE_UCUM: Final[Mapping[str, str]] = MappingProxyType({"mg": "mg", "GBq": "GBq"})

# --- procedures ---------------------------------------------------------------------------------

SURGERY_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "segmental_ileal_resection": "segmental ileal resection",
        "right_hemicolectomy": "right hemicolectomy",
        "ileocecal_resection": "ileocecal resection",
        "small_bowel_resection": "small bowel resection",
    }
)
PROCEDURE_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ablation": "tumour ablation",
        "tae": "transarterial embolisation (TAE)",
        "tace": "transarterial chemoembolisation (TACE)",
        "sirt": "selective internal radiation therapy (SIRT)",
        "radiotherapy": "radiotherapy",
        "cholecystectomy": "cholecystectomy",
    }
)
# Recorded procedures that are operations (mCODE CancerRelatedSurgicalProcedure); the others
# are interventional radiology or radiotherapy, sent as plain Procedures.
SURGICAL_PROCEDURES: Final = frozenset({"cholecystectomy"})
