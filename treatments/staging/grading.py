"""N against the nodes, the WHO 2019 grade and its plausibility, T against the tumour size.

Pure, no database (docs/clinical-rules.md#n-agrees-with-the-nodes,
docs/clinical-rules.md#who-2019-grade, docs/clinical-rules.md#implausible-grades).
"""

from __future__ import annotations

import math
from numbers import Real

from .tables import (
    _WELL_GRADE_ORDER,
    AJCC_SOURCE,
    COLON_RECTUM_NET,
    COLON_RECTUM_SOURCE,
    DIFFERENTIATION,
    JEJUNUM_ILEUM,
    KI67_G2_FROM,
    KI67_G2_UP_TO,
    KI67_WELL_RARELY_ABOVE,
    MITOSES_G2_FROM,
    MITOSES_G2_UP_TO,
    N2_NODES_FROM,
    T1_MAX_MM,
    T1A_BELOW_MM,
    TUMOUR_SIZE_MAX_MM,
    WHO_SOURCE,
    Grade,
    Notice,
    StagingError,
    _choice,
)

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
