"""Staging and grading of small-intestine neuroendocrine tumours (pure, no database).

Two rules live here, each encoded once so the API and the admin can show where a value came
from:

- ``ajcc_stage``: the AJCC Cancer Staging Manual, 8th edition, table for jejunum and ileum
  NET (CLINICAL.md §1). Other primary sites have their own AJCC tables and are refused until
  they are supported, rather than staged with the wrong one.
- ``who_grade``: the WHO 2019 classification of gastroenteropancreatic neuroendocrine
  neoplasms (CLINICAL.md §1).

Bad input raises ``StagingError`` carrying the field name and a machine-readable code, so a
serializer can turn it into a 400 field error without parsing the message.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Final, Literal

__all__ = [
    "AJCC_SOURCE",
    "DIFFERENTIATION",
    "GRADES",
    "M_VALUES",
    "N_VALUES",
    "OTHER_SITES",
    "STAGES",
    "SUPPORTED_SITES",
    "T_VALUES",
    "WHO_SOURCE",
    "StagingError",
    "ajcc_stage",
    "who_grade",
]

AJCC_SOURCE: Final = "AJCC Cancer Staging Manual, 8th edition: jejunum and ileum NET"
WHO_SOURCE: Final = "WHO 2019 classification of gastroenteropancreatic neuroendocrine neoplasms"

T_VALUES: Final = ("TX", "T0", "T1", "T2", "T3", "T4")
N_VALUES: Final = ("NX", "N0", "N1", "N2")
M_VALUES: Final = ("M0", "M1a", "M1b", "M1c")
SUPPORTED_SITES: Final = ("jejunum", "ileum", "ileocecal")
OTHER_SITES: Final = ("appendix", "colon", "rectum", "pancreas", "stomach", "duodenum", "other")
DIFFERENTIATION: Final = ("well", "poor", "mixed")

Stage = Literal["I", "II", "III", "IV", "unknown"]
Grade = Literal["G1", "G2", "G3", "NEC", "MiNEN"]
STAGES: Final = ("I", "II", "III", "IV", "unknown")
GRADES: Final = ("G1", "G2", "G3", "NEC", "MiNEN")

# WHO 2019 cut-offs, as the table reads: G1 below the lower bound, G2 up to and including
# the upper bound, G3 above it.
KI67_G2_FROM: Final = 3.0
KI67_G2_UP_TO: Final = 20.0
MITOSES_G2_FROM: Final = 2.0
MITOSES_G2_UP_TO: Final = 20.0

_WELL_GRADE_ORDER: Final = ("G1", "G2", "G3")


class StagingError(ValueError):
    """Bad staging or grading input, named by field and code so it maps to a 400 field error."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"StagingError(field={self.field!r}, code={self.code!r}, message={self.message!r})"


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    # Exact match only: "m1A" or "M1" is a typo, and guessing which M1 was meant would change
    # nothing here but would elsewhere (M1a vs M1c), so it is refused.
    if not isinstance(value, str) or value not in allowed:
        raise StagingError(
            field, "invalid_choice", f"{value!r} is not one of {', '.join(allowed)}."
        )
    return value


def _primary_site(value: object) -> str:
    if isinstance(value, str) and value in OTHER_SITES:
        raise StagingError(
            "primary_site",
            "unsupported_site",
            f"Primary site {value!r} is staged by another AJCC table, which is not yet "
            "supported; only jejunum, ileum and ileocecal primaries can be staged.",
        )
    return _choice("primary_site", value, SUPPORTED_SITES)


def ajcc_stage(t: str, n: str, m: str, *, primary_site: str = "ileum") -> Stage:
    """Return the AJCC 8th edition stage group for a jejunum/ileum NET.

    Source: AJCC Cancer Staging Manual, 8th edition, jejunum and ileum NET (CLINICAL.md §1).
    Returns "unknown" rather than a guess when TX or NX decides the group, and for T0 N0 M0
    (no primary found and nothing else to stage).
    """
    t = _choice("t", t, T_VALUES)
    n = _choice("n", n, N_VALUES)
    m = _choice("m", m, M_VALUES)
    _primary_site(primary_site)

    if m != "M0":  # M1a, M1b, M1c: any T, any N
        return "IV"
    if n in ("N1", "N2"):  # any T, TX and T0 included
        return "III"
    if t == "T4":  # T4 is III with N0, and with N1/N2, so NX does not matter
        return "III"
    if n == "NX":  # T1-T3 move from I/II to III with nodes: NX decides the group
        return "unknown"
    # N0 M0 from here.
    if t == "T1":
        return "I"
    if t in ("T2", "T3"):
        return "II"
    return "unknown"  # TX N0 M0 (T decides I/II/III) or T0 N0 M0 (nothing to stage)


def _measure(field: str, value: object, *, upper: float | None) -> float | None:
    if value is None:
        return None
    # bool is an int subclass: True must not pass as a Ki-67 of 1 %.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise StagingError(field, "invalid_type", f"{field} must be a number.")
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise StagingError(field, "out_of_range", f"{field} must be a finite number of 0 or more.")
    if upper is not None and number > upper:
        raise StagingError(field, "out_of_range", f"{field} must be between 0 and {upper:g}.")
    return number


def _grade_from_ki67(ki67: float) -> Grade:
    if ki67 < KI67_G2_FROM:
        return "G1"
    if ki67 <= KI67_G2_UP_TO:
        return "G2"
    return "G3"


def _grade_from_mitoses(mitoses: float) -> Grade:
    if mitoses < MITOSES_G2_FROM:
        return "G1"
    if mitoses <= MITOSES_G2_UP_TO:
        return "G2"
    return "G3"


def who_grade(
    differentiation: str, ki67_percent: float | None, mitoses_per_2mm2: float | None
) -> Grade:
    """Return the WHO 2019 category: "G1", "G2", "G3", "NEC" or "MiNEN".

    Source: WHO 2019 classification of gastroenteropancreatic neuroendocrine neoplasms
    (CLINICAL.md §1). Poorly differentiated disease is NEC and mixed disease MiNEN whatever
    the numbers; for well-differentiated NET, Ki-67 and mitoses each give a grade and the
    higher one wins, because grading by the lower would under-treat. The numbers are checked
    for every differentiation: an impossible Ki-67 is an entry error even where it does not
    change the category.
    """
    differentiation = _choice("differentiation", differentiation, DIFFERENTIATION)
    ki67 = _measure("ki67_percent", ki67_percent, upper=100.0)
    mitoses = _measure("mitoses_per_2mm2", mitoses_per_2mm2, upper=None)

    if differentiation == "poor":
        return "NEC"
    if differentiation == "mixed":
        return "MiNEN"
    if ki67 is None and mitoses is None:
        raise StagingError(
            "ki67_percent",
            "required",
            "A well-differentiated NET needs a Ki-67 index or a mitotic count to be graded.",
        )
    grades: list[Grade] = []
    if ki67 is not None:
        grades.append(_grade_from_ki67(ki67))
    if mitoses is not None:
        grades.append(_grade_from_mitoses(mitoses))
    return max(grades, key=_WELL_GRADE_ORDER.index)
