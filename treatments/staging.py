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
message.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Final, Literal

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

AJCC_SOURCE: Final = "AJCC Cancer Staging Manual, 8th edition: jejunum and ileum NET"
COLON_RECTUM_SOURCE: Final = "AJCC Cancer Staging Manual, 8th edition: colon and rectum NET"
WHO_SOURCE: Final = "WHO 2019 classification of gastroenteropancreatic neuroendocrine neoplasms"
UNSUPPORTED_SOURCE: Final = (
    "AJCC Cancer Staging Manual, 8th edition (scope of the NET chapters); CAP protocol for "
    "well-differentiated NETs of the jejunum and ileum (2021); WHO 2019"
)
DATE_SOURCE: Final = "Data integrity: a clinical fact cannot predate the patient"

# Stage systems (the course answer's `stage_system`).
JEJUNUM_ILEUM: Final = "ajcc8_jejunum_ileum"
COLON_RECTUM_NET: Final = "ajcc8_colon_rectum_net"
UNSUPPORTED: Final = "unsupported"
STAGE_SYSTEMS: Final = (JEJUNUM_ILEUM, COLON_RECTUM_NET, UNSUPPORTED)

# `ileocecal` keeps its first meaning: the terminal ileum at the ileocecal region, staged as
# ileum. A tumour of the valve itself or of the caecum is a colon primary for AJCC.
JEJUNUM_ILEUM_SITES: Final = ("jejunum", "ileum", "ileocecal")
COLON_RECTUM_NET_SITES: Final = ("ileocecal_valve", "cecum")
SUPPORTED_SITES: Final = JEJUNUM_ILEUM_SITES + COLON_RECTUM_NET_SITES
OTHER_SITES: Final = ("appendix", "colon", "rectum", "pancreas", "stomach", "duodenum", "other")
DIFFERENTIATION: Final = ("well", "poor", "mixed")

T_VALUES: Final = ("TX", "T0", "T1", "T2", "T3", "T4")
# The colon and rectum NET table splits T1 by size: T1a < 1 cm, T1b 1-2 cm.
COLON_T_VALUES: Final = ("TX", "T0", "T1", "T1a", "T1b", "T2", "T3", "T4")
ALL_T_VALUES: Final = COLON_T_VALUES
N_VALUES: Final = ("NX", "N0", "N1", "N2")
COLON_N_VALUES: Final = ("NX", "N0", "N1")
M_VALUES: Final = ("M0", "M1a", "M1b", "M1c")

Stage = Literal["I", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IV", "unknown"]
Grade = Literal["G1", "G2", "G3", "NEC", "MiNEN"]
STAGES: Final = ("I", "II", "III", "IV", "unknown")
COLON_STAGES: Final = ("I", "IIA", "IIB", "IIIA", "IIIB", "IV", "unknown")
ALL_STAGES: Final = ("I", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IV", "unknown")
GRADES: Final = ("G1", "G2", "G3", "NEC", "MiNEN")

# WHO 2019 cut-offs, as the table reads: G1 below the lower bound, G2 up to and including
# the upper bound, G3 above it.
KI67_G2_FROM: Final = 3.0
KI67_G2_UP_TO: Final = 20.0
MITOSES_G2_FROM: Final = 2.0
MITOSES_G2_UP_TO: Final = 20.0
# NET G3 rarely exceeds a Ki-67 of 55 %, NEC usually does (WHO 2019 and its reviews).
KI67_WELL_RARELY_ABOVE: Final = 55.0

# AJCC 8th edition N definitions, jejunum and ileum: N2 is a mesenteric mass over 2 cm or
# extensive nodal deposits, 12 nodes or more.
N2_NODES_FROM: Final = 12
# T1 size limits: jejunum/ileum T1 is at most 1 cm; colon/rectum T1 at most 2 cm, T1a under
# 1 cm and T1b 1-2 cm.
T1_MAX_MM: Final = {JEJUNUM_ILEUM: 10.0, COLON_RECTUM_NET: 20.0}
T1A_BELOW_MM: Final = 10.0
TUMOUR_COUNT_MAX: Final = 100
TUMOUR_SIZE_MAX_MM: Final = 500.0

# Nobody followed today was born before 1900; an earlier clinical date is a typing error.
EARLIEST_CLINICAL_DATE: Final = dt.date(1900, 1, 1)

_WELL_GRADE_ORDER: Final = ("G1", "G2", "G3")
_NODE_FIELDS: Final = frozenset({"nodes_examined", "nodes_positive"})


class StagingError(ValueError):
    """Bad staging or grading input, named by field and code so it maps to a 400 field error.

    ``field`` is the bare field name (``"n"``, ``"nodes_positive"``); ``section`` is the part
    of a registration it belongs to (``"diagnosis"`` or ``"surgery"``).
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message

    @property
    def section(self) -> str:
        return "surgery" if self.field in _NODE_FIELDS else "diagnosis"

    def __repr__(self) -> str:
        return f"StagingError(field={self.field!r}, code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class Notice:
    """A warning: the data are accepted, but a clinician should look at them."""

    code: str
    detail: str
    source: str
    evidence: str = "classification rule"

    def as_dict(self) -> dict[str, Any]:
        """The shape of the machine's guard results: guard, reason, source, evidence, ..."""
        return {
            "guard": self.code,
            "reason": self.detail,
            "source": self.source,
            "evidence": self.evidence,
            "overridable": True,
            "blocking": False,
        }


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> str:
    # Exact match only: "m1A" or "M1" is a typo, and guessing which M1 was meant would change
    # nothing here but would elsewhere (M1a vs M1c), so it is refused.
    if not isinstance(value, str) or value not in allowed:
        raise StagingError(
            field, "invalid_choice", f"{value!r} is not one of {', '.join(allowed)}."
        )
    return value


def stage_system_for(primary_site: object, differentiation: object = "well") -> str:
    """The AJCC table that stages a primary: one of STAGE_SYSTEMS.

    Source: AJCC 8th edition. Jejunum, ileum and ileocecal (terminal ileum) use the jejunum and
    ileum NET table; the ileocecal valve and the caecum (C18.0) the colon and rectum NET table.
    Poorly differentiated carcinoma (NEC) and MiNEN are outside both NET chapters: AJCC stages
    them with the small intestine or colon carcinoma chapters, which this product does not
    encode (``unsupported``). Raises StagingError for a site no table here covers.
    """
    if isinstance(primary_site, str) and primary_site in OTHER_SITES:
        raise StagingError(
            "primary_site",
            "unsupported_site",
            f"Primary site {primary_site!r} is staged by another AJCC table, which is not yet "
            f"supported; the supported primary sites are {', '.join(SUPPORTED_SITES)}.",
        )
    site = _choice("primary_site", primary_site, SUPPORTED_SITES)
    if differentiation in ("poor", "mixed"):
        return UNSUPPORTED
    return COLON_RECTUM_NET if site in COLON_RECTUM_NET_SITES else JEJUNUM_ILEUM


def _jejunum_ileum_stage(t: str, n: str, m: str) -> Stage:
    if m != "M0":  # M1a, M1b, M1c: any T, any N
        return "IV"
    if n in ("N1", "N2"):  # any T, TX and T0 included
        return "III"
    if t == "T4":  # T4 is III with N0, and with N1/N2, so NX does not matter
        return "III"
    if n == "NX":  # T1-T3 move from I/II to III with nodes: NX decides the group
        return "unknown"
    if t == "T1":
        return "I"
    if t in ("T2", "T3"):
        return "II"
    return "unknown"  # TX N0 M0 (T decides I/II/III) or T0 N0 M0 (nothing to stage)


def _colon_rectum_stage(t: str, n: str, m: str) -> Stage:
    if m != "M0":
        return "IV"
    if n == "N1":  # any T, TX and T0 included
        return "IIIB"
    if n == "NX":  # every T moves to IIIB with nodes, T4 included (IIIA vs IIIB)
        return "unknown"
    # N0 M0 from here.
    by_t: dict[str, Stage] = {"T1": "I", "T1a": "I", "T1b": "I", "T2": "IIA", "T3": "IIB"}
    if t == "T4":
        return "IIIA"
    return by_t.get(t, "unknown")  # TX N0 M0 or T0 N0 M0


def ajcc_stage(t: str, n: str, m: str, *, primary_site: str = "ileum") -> Stage:
    """Return the AJCC 8th edition stage group of a well-differentiated NET.

    Sources: AJCC Cancer Staging Manual, 8th edition, jejunum and ileum NET (I: T1 N0 M0;
    II: T2-T3 N0 M0; III: T4 N0 M0 or any T N1-N2 M0; IV: M1) and colon and rectum NET (I: T1
    N0 M0; IIA: T2 N0; IIB: T3 N0; IIIA: T4 N0; IIIB: any T N1; IV: M1), chosen by
    ``primary_site`` (see ``stage_system_for``). Returns "unknown" rather than a guess when TX
    or NX decides the group, and for T0 N0 M0 (no primary found and nothing else to stage).
    Raises StagingError (field t, n, m or primary_site) for a value the table does not have,
    e.g. T1a on the jejunum/ileum table or N2 on the colon/rectum table.
    """
    system = stage_system_for(primary_site)
    if system == COLON_RECTUM_NET:
        t = _choice("t", t, COLON_T_VALUES)
        n = _choice("n", n, N_VALUES)
        m = _choice("m", m, M_VALUES)
        if n == "N2":
            raise StagingError(
                "n",
                "not_in_table",
                f"{COLON_RECTUM_SOURCE}: N is N0 or N1 (regional node metastasis); there is "
                "no N2 on this table.",
            )
        return _colon_rectum_stage(t, n, m)
    t = _choice("t", t, T_VALUES)
    n = _choice("n", n, N_VALUES)
    m = _choice("m", m, M_VALUES)
    return _jejunum_ileum_stage(t, n, m)


def risk_stage(stage: str | None) -> str:
    """The stage as the risk groups read it: I, II, III, IV or unknown.

    Sub-stages of the colon and rectum NET table count as their group (IIA/IIB as II,
    IIIA/IIIB as III); no stage (NEC, MiNEN) is "unknown", which never lowers the risk.
    """
    if stage is None or stage not in ALL_STAGES:
        return "unknown"
    return stage.rstrip("AB") if stage.startswith(("II", "III")) else stage


# --- Multifocal primaries ----------------------------------------------------------------------

_MULTIFOCAL = re.compile(r"^(?P<t>T[0-4X]|T1[ab])\((?P<count>m|[0-9]{1,3})\)$")


def split_multifocal(t: object) -> tuple[object, str | int | None]:
    """Split a T written with the AJCC multiple-primary suffix: "T3(m)" -> ("T3", "m").

    Source: AJCC 8th edition: multiple primaries add "(m)" or their number, e.g. T3(2), and
    take the highest T. Returns (t, None) unchanged when there is no suffix (the T value
    itself is checked by ``ajcc_stage``).
    """
    if not isinstance(t, str):
        return t, None
    match = _MULTIFOCAL.match(t)
    if match is None:
        return t, None
    count = match["count"]
    return match["t"], ("m" if count == "m" else int(count))


def t_display(t: str, tumour_count: int | None) -> str:
    """T as reported: with "(m)" when more than one primary was found (AJCC 8th edition).

    ``tumour_count`` None means several primaries whose number was not recorded (a "T3(m)"
    given without a count).
    """
    return f"{t}(m)" if tumour_count is None or tumour_count > 1 else t


def _tumour_count(
    t: str, suffix: str | int | None, given: object
) -> tuple[int | None, list[StagingError]]:
    if given is not None and (
        isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= TUMOUR_COUNT_MAX
    ):
        return None, [
            StagingError(
                "tumour_count",
                "out_of_range",
                f"tumour_count must be a whole number from 1 to {TUMOUR_COUNT_MAX}.",
            )
        ]
    if isinstance(suffix, int):
        if suffix < 2:
            return None, [
                StagingError(
                    "t", "invalid_choice", "The count after T names two or more primaries."
                )
            ]
        if given is not None and given != suffix:
            return None, [
                StagingError(
                    "tumour_count",
                    "contradiction",
                    f"{t}({suffix}) records {suffix} primaries but tumour_count is {given}.",
                )
            ]
        count: int | None = suffix
    elif suffix == "m":
        # "(m)" alone says several primaries without their number: kept as None, not guessed.
        if given is not None and given < 2:
            return None, [
                StagingError(
                    "tumour_count",
                    "contradiction",
                    f"{t}(m) records multiple primaries (AJCC 8th edition), but tumour_count is "
                    f"{given}.",
                )
            ]
        count = given
    else:
        count = 1 if given is None else given
    if t == "T0" and (count is None or count > 1):
        return None, [
            StagingError(
                "tumour_count",
                "contradiction",
                "T0 means no primary tumour was found; it cannot have several.",
            )
        ]
    return count, []


# --- N against the nodes -------------------------------------------------------------------


def _count(field: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StagingError(field, "invalid_type", f"{field} must be a whole number of 0 or more.")
    return value


def node_issues(
    *,
    system: str,
    n: str,
    nodes_examined: int | None,
    nodes_positive: int | None,
    mesenteric_mass_over_2cm: bool = False,
) -> list[StagingError]:
    """Every way N disagrees with the node counts and the mesenteric mass; [] when they agree.

    Sources: AJCC 8th edition N definitions. Jejunum and ileum NET: N0 no regional node
    metastasis; N1 metastasis in fewer than 12 nodes without a mesenteric mass over 2 cm; N2
    a mesenteric mass over 2 cm and/or 12 or more positive nodes. Colon and rectum NET: N0 or
    N1, no N2 and no 12-node rule. For NEC and MiNEN (``unsupported``: the carcinoma chapters
    count nodes differently) only the rules every table shares apply: positive nodes are not
    N0, and N1/N2 needs a positive node or a mass when nodes were examined. Counts are whole
    numbers; the errors name fields n, nodes_positive or mesenteric_mass_over_2cm.
    """
    examined = _count("nodes_examined", nodes_examined)
    positive = _count("nodes_positive", nodes_positive)
    mass = bool(mesenteric_mass_over_2cm)
    label = {
        JEJUNUM_ILEUM: f"{AJCC_SOURCE}, N definitions",
        COLON_RECTUM_NET: f"{COLON_RECTUM_SOURCE}, N definitions",
    }.get(system, "AJCC 8th edition N definitions")
    issues: list[StagingError] = []
    if examined is not None and positive is not None and positive > examined:
        issues.append(
            StagingError(
                "nodes_positive",
                "more_positive_than_examined",
                "More positive nodes than nodes examined.",
            )
        )
        return issues
    positive = positive or 0
    if positive > 0 and n in ("N0", "NX"):
        least = "N2" if system == JEJUNUM_ILEUM and positive >= N2_NODES_FROM else "N1"
        issues.append(
            StagingError(
                "n",
                "n_contradicts_nodes",
                f"{label}: {positive} positive node{'s' if positive > 1 else ''} make it at "
                f"least {least} (regional node metastasis), not {n}.",
            )
        )
    if n in ("N1", "N2") and examined is not None and examined > 0 and positive == 0 and not mass:
        issues.append(
            StagingError(
                "n",
                "n_without_positive_nodes",
                f"{label}: {n} means regional node metastasis, but all {examined} nodes "
                "examined are negative and no mesenteric mass is recorded.",
            )
        )
    if system == COLON_RECTUM_NET:
        if n == "N2":
            issues.append(
                StagingError(
                    "n",
                    "not_in_table",
                    f"{label}: N is N0 or N1 on this table; there is no N2.",
                )
            )
        elif mass and n == "N0":
            issues.append(
                StagingError(
                    "n",
                    "n_contradicts_mass",
                    f"{label}: a mesenteric mass is nodal disease: N1, not N0.",
                )
            )
    elif system == JEJUNUM_ILEUM:
        if n == "N1" and positive >= N2_NODES_FROM:
            issues.append(
                StagingError(
                    "n",
                    "n1_with_12_or_more_nodes",
                    f"{label}: {positive} positive nodes (12 or more) make it N2, not N1.",
                )
            )
        if mass and n in ("N0", "N1", "NX"):
            issues.append(
                StagingError(
                    "n",
                    "n_contradicts_mass",
                    f"{label}: a mesenteric mass over 2 cm makes it N2, not {n}.",
                )
            )
        if n == "N2" and positive < N2_NODES_FROM and not mass:
            issues.append(
                StagingError(
                    "n",
                    "n2_not_justified",
                    f"{label}: N2 needs a mesenteric mass over 2 cm "
                    f"(mesenteric_mass_over_2cm) or 12 or more positive nodes; "
                    f"{positive} positive node{'' if positive == 1 else 's'} recorded.",
                )
            )
    return issues


# --- WHO 2019 grade ------------------------------------------------------------------------


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

    Source: WHO 2019 classification of gastroenteropancreatic neuroendocrine neoplasms.
    Poorly differentiated disease is NEC and mixed disease MiNEN whatever the numbers; for
    well-differentiated NET, Ki-67 (%) and mitoses (per 2 mm²) each give a grade and the
    higher one wins, because grading by the lower would under-treat. The numbers are checked
    for every differentiation: an impossible Ki-67 is an entry error even where it does not
    change the category. Raises StagingError.
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


def grade_warnings(
    differentiation: str, ki67_percent: float | None, mitoses_per_2mm2: float | None
) -> list[Notice]:
    """Combinations WHO 2019 makes implausible: accepted, but worth a second look.

    Source: WHO 2019 classification (NET vs NEC is a morphological call; NET G3 rarely
    exceeds a Ki-67 of 55 %; NEC has Ki-67 and mitoses above 20). Well differentiated with
    Ki-67 > 55 %; poorly differentiated with Ki-67 <= 20 % or at most 20 mitoses per 2 mm²;
    a well-differentiated NET whose Ki-67 and mitoses give grades two apart (G1 and G3).
    Expects values ``who_grade`` accepted.
    """
    notices: list[Notice] = []
    ki67 = None if ki67_percent is None else float(ki67_percent)
    mitoses = None if mitoses_per_2mm2 is None else float(mitoses_per_2mm2)
    if differentiation == "well" and ki67 is not None and ki67 > KI67_WELL_RARELY_ABOVE:
        notices.append(
            Notice(
                "well_differentiated_with_very_high_ki67",
                f"Well differentiated with a Ki-67 of {ki67:g} %: NET G3 rarely exceeds "
                f"{KI67_WELL_RARELY_ABOVE:g} % and NEC usually does; check the morphology.",
                WHO_SOURCE,
            )
        )
    if differentiation == "poor" and ki67 is not None and ki67 <= KI67_G2_UP_TO:
        notices.append(
            Notice(
                "poorly_differentiated_with_low_ki67",
                f"Poorly differentiated with a Ki-67 of {ki67:g} %: NEC has a Ki-67 above "
                f"{KI67_G2_UP_TO:g} %; check the differentiation and the index.",
                WHO_SOURCE,
            )
        )
    if differentiation == "poor" and mitoses is not None and mitoses <= MITOSES_G2_UP_TO:
        notices.append(
            Notice(
                "poorly_differentiated_with_few_mitoses",
                f"Poorly differentiated with {mitoses:g} mitoses per 2 mm²: NEC has more than "
                f"{MITOSES_G2_UP_TO:g}; check the differentiation and the count.",
                WHO_SOURCE,
            )
        )
    if differentiation == "well" and ki67 is not None and mitoses is not None:
        pair = {_grade_from_ki67(ki67), _grade_from_mitoses(mitoses)}
        if pair == {"G1", "G3"}:
            notices.append(
                Notice(
                    "ki67_and_mitoses_disagree",
                    f"Ki-67 {ki67:g} % and {mitoses:g} mitoses per 2 mm² give grades two "
                    "apart (G1 and G3); the higher grade is used, check both counts.",
                    WHO_SOURCE,
                )
            )
    return notices


# --- Tumour size ---------------------------------------------------------------------------


def _size_issues(system: str, t: str, size_mm: object) -> list[StagingError]:
    if size_mm is not None and (
        isinstance(size_mm, bool)
        or not isinstance(size_mm, Real)
        or not (0 < float(size_mm) <= TUMOUR_SIZE_MAX_MM)
    ):
        return [
            StagingError(
                "tumour_size_mm",
                "out_of_range",
                f"tumour_size_mm must be more than 0 and at most {TUMOUR_SIZE_MAX_MM:g} mm.",
            )
        ]
    if t in ("T1a", "T1b") and size_mm is None:
        return [
            StagingError(
                "tumour_size_mm",
                "required",
                f"{COLON_RECTUM_SOURCE}: {t} is defined by size (T1a under 1 cm, T1b 1-2 cm): "
                "give tumour_size_mm.",
            )
        ]
    if size_mm is None or system not in T1_MAX_MM:
        return []
    size = float(size_mm)
    source = AJCC_SOURCE if system == JEJUNUM_ILEUM else COLON_RECTUM_SOURCE
    limit = T1_MAX_MM[system]
    if t in ("T1", "T1a", "T1b") and size > limit:
        return [
            StagingError(
                "t",
                "t_contradicts_size",
                f"{source}: T1 is at most {limit / 10:g} cm; a {size:g} mm primary is at least T2.",
            )
        ]
    if t == "T1a" and size >= T1A_BELOW_MM:
        return [
            StagingError(
                "t", "t_contradicts_size", f"{source}: T1a is under 1 cm; {size:g} mm is T1b."
            )
        ]
    if t == "T1b" and size < T1A_BELOW_MM:
        return [
            StagingError("t", "t_contradicts_size", f"{source}: T1b is 1-2 cm; {size:g} mm is T1a.")
        ]
    return []


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
