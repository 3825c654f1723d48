"""Rules for results: which imaging answers the imaging item, what to warn about, lab units.

Pure: a value and its unit in, the stored unit, field errors and warnings out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from .sources import (
    SOURCE_CGA_PPI,
    SOURCE_FUNCTIONAL_IMAGING,
    SOURCE_IMAGING_MODALITY,
    SOURCE_LAB_CEILING,
    SOURCE_LAB_UNITS,
    SOURCE_LINE_MONITORING,
    SOURCE_PRRT_LABS,
    SOURCE_VITAMINS,
)
from .symptoms import _is_number

# Only multiphase CT or MRI answers the surveillance imaging item
# (docs/clinical-rules.md#visits-and-markers); other studies are recorded but leave the item due.
SURVEILLANCE_IMAGING_MODALITIES = frozenset({"ct", "mri"})
FUNCTIONAL_IMAGING_MODALITIES = frozenset({"sstr_pet", "octreoscan", "fdg_pet"})
_ROUTINE_PURPOSE = "surveillance"


@dataclass(frozen=True)
class Notice:
    """A warning attached to an accepted input: the thing is recorded, the reader is told."""

    code: str
    detail: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail, "source": self.source}


def imaging_warnings(modality: str, purpose: str) -> list[Notice]:
    """Warnings for an imaging study that happened but is not what surveillance asks for."""
    if purpose != _ROUTINE_PURPOSE or modality == ECHOCARDIOGRAPHY_MODALITY:
        return []
    if modality in FUNCTIONAL_IMAGING_MODALITIES:
        return [
            Notice(
                "functional_imaging_not_for_surveillance",
                "Functional imaging (Octreoscan, SSTR-PET, FDG-PET) is not for routine "
                "surveillance: use it when recurrence is suspected or to decide PRRT. The study "
                "is recorded; the multiphase CT or MRI surveillance imaging stays due.",
                SOURCE_FUNCTIONAL_IMAGING,
            )
        ]
    if modality not in SURVEILLANCE_IMAGING_MODALITIES:
        return [
            Notice(
                "not_surveillance_imaging",
                f"Surveillance imaging is multiphase CT or MRI, not {modality}. The study is "
                "recorded; the surveillance imaging stays due.",
                SOURCE_IMAGING_MODALITY,
            )
        ]
    return []


@dataclass(frozen=True)
class LabUnit:
    unit: str  # the spelling stored
    ceiling: float  # plausibility ceiling in this unit (SOURCE_LAB_CEILING)
    aliases: tuple[str, ...] = ()  # other spellings accepted on input


@dataclass(frozen=True)
class Analyte:
    label: str
    units: tuple[LabUnit, ...]
    source: str


_MICRO_G_L = ("μg/L", "ug/L", "mcg/L")  # Greek mu and ASCII spellings of the micro sign
_VITAMINS = f"{SOURCE_LAB_UNITS} ({SOURCE_VITAMINS})"
_LINE_LABS = f"{SOURCE_LAB_UNITS} ({SOURCE_LINE_MONITORING})"
_BLOOD = f"{SOURCE_LAB_UNITS} ({SOURCE_PRRT_LABS}; {SOURCE_LINE_MONITORING})"

LAB_ANALYTES: Mapping[str, Analyte] = MappingProxyType(
    {
        # CgA and 5-HIAA units are listed in docs/clinical-rules.md#lab-values; 1 nmol/L of CgA is
        # about 49 ng/mL, so the ceilings agree across units.
        "chromogranin_a": Analyte(
            "chromogranin A",
            (
                LabUnit("ng/mL", 1_000_000),
                LabUnit("µg/L", 1_000_000, _MICRO_G_L),
                LabUnit("nmol/L", 20_000),
                LabUnit("U/L", 100_000),
            ),
            f"{SOURCE_LAB_UNITS} (chromogranin A: ng/mL, µg/L, nmol/L, U/L)",
        ),
        # 1 mg of 5-HIAA is 5.23 µmol.
        "u5hiaa": Analyte(
            "24-hour urinary 5-HIAA",
            (
                LabUnit("mg/24h", 10_000, ("mg/24 h", "mg/d", "mg/day")),
                LabUnit("µmol/24h", 50_000, ("μmol/24h", "umol/24h", "µmol/d", "umol/d")),
            ),
            f"{SOURCE_LAB_UNITS} (5-HIAA: mg/24h, µmol/24h)",
        ),
        # NT-proBNP screens for carcinoid heart disease (docs/clinical-rules.md#scoring-thresholds).
        "nt_probnp": Analyte(
            "NT-proBNP",
            (LabUnit("pg/mL", 1_000_000), LabUnit("ng/L", 1_000_000)),
            "docs/clinical-rules.md#scoring-thresholds (possible carcinoid heart disease: "
            "NT-proBNP and echocardiography)",
        ),
        # Vitamin B12 yearly after ileal resection or on SSA
        # (docs/clinical-rules.md#monitoring-on-a-line); 1 pg/mL = 0.738 pmol/L.
        "vitamin_b12": Analyte(
            "vitamin B12",
            (LabUnit("pg/mL", 100_000), LabUnit("pmol/L", 75_000)),
            "docs/clinical-rules.md#monitoring-on-a-line (after ileal resection or on SSA: "
            "vitamin B12 yearly)",
        ),
        # Glucose is monitored on everolimus (docs/clinical-rules.md#monitoring-on-a-line);
        # 1 mmol/L = 18 mg/dL.
        "glucose": Analyte(
            "glucose",
            (LabUnit("mmol/L", 200), LabUnit("mg/dL", 3_600)),
            "docs/clinical-rules.md#monitoring-on-a-line (everolimus: glucose, lipids, blood "
            "counts)",
        ),
        # Vitamin D yearly on SSA (docs/clinical-rules.md#version-2-surveillance-and-monitoring);
        # 1 ng/mL = 2.496 nmol/L.
        "vitamin_d": Analyte(
            "25-hydroxyvitamin D",
            (LabUnit("ng/mL", 1_000), LabUnit("nmol/L", 2_500)),
            _VITAMINS,
        ),
        # Lipids on everolimus (docs/clinical-rules.md#monitoring-on-a-line).
        "cholesterol": Analyte(
            "total cholesterol", (LabUnit("mmol/L", 100), LabUnit("mg/dL", 4_000)), _LINE_LABS
        ),
        "triglycerides": Analyte(
            "triglycerides", (LabUnit("mmol/L", 200), LabUnit("mg/dL", 18_000)), _LINE_LABS
        ),
        # Blood counts and renal and liver function: on everolimus and chemotherapy, before each
        # PRRT cycle and yearly after PRRT (docs/clinical-rules.md#version-2-treatment-lines).
        "haemoglobin": Analyte("haemoglobin", (LabUnit("g/L", 300), LabUnit("g/dL", 30)), _BLOOD),
        "platelets": Analyte("platelets", (LabUnit("10^9/L", 5_000, ("x10^9/L", "G/L")),), _BLOOD),
        "leukocytes": Analyte(
            "white cells", (LabUnit("10^9/L", 1_000, ("x10^9/L", "G/L")),), _BLOOD
        ),
        "neutrophils": Analyte(
            "neutrophils", (LabUnit("10^9/L", 1_000, ("x10^9/L", "G/L")),), _BLOOD
        ),
        "creatinine": Analyte(
            "creatinine",
            (LabUnit("µmol/L", 10_000, ("umol/L", "μmol/L")), LabUnit("mg/dL", 120)),
            _BLOOD,
        ),
        "creatinine_clearance": Analyte(
            "creatinine clearance", (LabUnit("mL/min", 300, ("ml/min",)),), _BLOOD
        ),
        "alt": Analyte("ALT", (LabUnit("U/L", 20_000),), _BLOOD),
        "ast": Analyte("AST", (LabUnit("U/L", 20_000),), _BLOOD),
        "albumin": Analyte("albumin", (LabUnit("g/L", 100), LabUnit("g/dL", 10)), _BLOOD),
        "bilirubin": Analyte(
            "bilirubin",
            (LabUnit("µmol/L", 1_000, ("umol/L", "μmol/L")), LabUnit("mg/dL", 60)),
            _BLOOD,
        ),
    }
)
CGA = "chromogranin_a"
U5HIAA = "u5hiaa"
NT_PROBNP = "nt_probnp"
BLOOD_COUNT_ANALYTES = frozenset({"haemoglobin", "platelets", "leukocytes", "neutrophils"})
RENAL_ANALYTES = frozenset({"creatinine", "creatinine_clearance"})
# Which lab results answer which due item (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
# PRRT labs are answered on the day both a blood count and a renal result are in.
ANALYTES_ANSWERING: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "cga": frozenset({CGA}),
        "u5hiaa": frozenset({U5HIAA}),
        "nt_probnp": frozenset({NT_PROBNP}),
        "vitamin_b12": frozenset({"vitamin_b12"}),
        "vitamin_d": frozenset({"vitamin_d"}),
        "blood_counts": BLOOD_COUNT_ANALYTES,
        "metabolic_panel": frozenset({"glucose", "cholesterol", "triglycerides"}),
    }
)
# 1 mg of 5-HIAA is 5.23 µmol (the echocardiography threshold is in µmol/24 h).
U5HIAA_UMOL_PER_MG = 5.23
ECHOCARDIOGRAPHY_MODALITY = "echocardiography"


def _unit_key(unit: str) -> str:
    return "".join(unit.split()).casefold()


def lab_unit(analyte: str, unit: str) -> LabUnit | None:
    """The allowed unit matching ``unit`` (spacing and case aside), or None if not allowed."""
    spec = LAB_ANALYTES.get(analyte)
    if spec is None or not isinstance(unit, str):
        return None
    key = _unit_key(unit)
    for allowed in spec.units:
        if key in {_unit_key(u) for u in (allowed.unit, *allowed.aliases)}:
            return allowed
    return None


@dataclass(frozen=True)
class LabCheck:
    unit: str | None  # the stored spelling of the unit when it is allowed
    errors: Mapping[str, list[str]]
    warnings: tuple[Notice, ...]


def check_lab_result(analyte: str, value: object, unit: str, on_ppi: bool | None) -> LabCheck:
    """Field errors (refuse) and warnings (accept) for a lab result
    (docs/clinical-rules.md#lab-values)."""
    errors: dict[str, list[str]] = {}
    spec = LAB_ANALYTES.get(analyte) if isinstance(analyte, str) else None
    if spec is None:
        errors["analyte"] = [f"Unknown analyte. Expected one of: {', '.join(LAB_ANALYTES)}."]
        return LabCheck(None, errors, ())

    allowed = lab_unit(analyte, unit)
    if allowed is None:
        errors["unit"] = [
            f"Unit {unit!r} is not allowed for {spec.label}: use "
            f"{', '.join(u.unit for u in spec.units)} ({spec.source})."
        ]

    # Decimal comes from serializers and the admin; a signalling NaN cannot even be float()ed.
    if isinstance(value, Decimal):
        number = float(value) if value.is_finite() else None
    else:
        number = float(value) if _is_number(value) else None  # type: ignore[arg-type]
    if number is None or not math.isfinite(number):
        errors["value"] = ["Must be a number."]
    elif number < 0:
        errors["value"] = [f"A {spec.label} value cannot be negative ({SOURCE_LAB_UNITS})."]
    elif allowed is not None and number > allowed.ceiling:
        errors["value"] = [
            f"{value} {allowed.unit} is not a possible {spec.label} value (above "
            f"{allowed.ceiling:,g} {allowed.unit}): check the decimal point and the unit "
            f"({SOURCE_LAB_CEILING})."
        ]

    warnings: list[Notice] = []
    if analyte == CGA and on_ppi is True:
        warnings.append(
            Notice(
                "cga_on_ppi",
                "Chromogranin A measured on a proton-pump inhibitor: PPIs raise CgA falsely, so "
                "a rise may not mean recurrence. Compare with results from the same assay.",
                SOURCE_CGA_PPI,
            )
        )
    if analyte == CGA and on_ppi is None:
        warnings.append(
            Notice(
                "cga_ppi_unknown",
                "Chromogranin A recorded without saying whether the patient takes a proton-pump "
                "inhibitor: PPIs raise CgA falsely, so record PPI use with the result.",
                SOURCE_CGA_PPI,
            )
        )
    return LabCheck(allowed.unit if allowed else None, errors, tuple(warnings))
