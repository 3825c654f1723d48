"""The AJCC 8th edition stage tables, the vocabulary of a diagnosis, and multifocal T.

Pure, no database. ``stage_system_for`` picks the table a primary site is staged with
(docs/clinical-rules.md#which-table-stages-a-primary), ``ajcc_stage`` reads it
(docs/clinical-rules.md#ajcc-8th-tnm-for-jejunum-and-ileum), and ``split_multifocal`` reads
the "(m)" of multifocal primaries (docs/clinical-rules.md#multifocal-primaries-and-tumour-size).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..rules_version import RULE_VERSION

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
            "rule_version": RULE_VERSION,
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
