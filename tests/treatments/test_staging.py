"""AJCC 8th edition stage and WHO 2019 grade, checked against oracles written from the rule book.

The oracles are deliberately built differently from the implementation: the stage oracle is
the table's rows, with TX/NX expanded into every value they could stand for; the grade oracle
is the WHO table read as intervals.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treatments.staging import (
    DIFFERENTIATION,
    JEJUNUM_ILEUM_SITES,
    M_VALUES,
    N_VALUES,
    OTHER_SITES,
    T_VALUES,
    StagingError,
    ajcc_stage,
    who_grade,
)

# --- AJCC 8th edition, jejunum and ileum: the stage table of the rule book, row by row ------

ALL_T = {"T0", "T1", "T2", "T3", "T4"}
ALL_N = {"N0", "N1", "N2"}
STAGE_ROWS = [
    # (stage, T, N, M)
    ("I", {"T1"}, {"N0"}, {"M0"}),
    ("II", {"T2", "T3"}, {"N0"}, {"M0"}),
    ("III", {"T4"}, {"N0"}, {"M0"}),
    ("III", ALL_T, {"N1", "N2"}, {"M0"}),
    ("IV", ALL_T, ALL_N, {"M1a", "M1b", "M1c"}),
]
# "cannot be assessed" could be any concrete value
COULD_BE = {"TX": ALL_T, "NX": ALL_N}


def oracle_stage(t: str, n: str, m: str) -> str:
    """The stage the table gives, or "unknown" when TX/NX leaves it open or no row matches."""
    stages = set()
    for t_real in COULD_BE.get(t, {t}):
        for n_real in COULD_BE.get(n, {n}):
            rows = [row for row in STAGE_ROWS if t_real in row[1] and n_real in row[2]]
            stages |= {stage for stage, _, _, ms in rows if m in ms} or {None}
    if len(stages) == 1 and None not in stages:
        return stages.pop()
    return "unknown"


ALL_TNM = list(itertools.product(T_VALUES, N_VALUES, M_VALUES))


def test_the_oracle_covers_every_valid_combination_once():
    assert len(ALL_TNM) == 6 * 4 * 4


@pytest.mark.parametrize(("t", "n", "m"), ALL_TNM)
def test_every_tnm_combination_is_staged_as_the_ajcc_table_reads(t, n, m):
    assert ajcc_stage(t, n, m) == oracle_stage(t, n, m)


@pytest.mark.parametrize(
    ("t", "n", "m", "stage"),
    [
        ("T1", "N0", "M0", "I"),
        ("T2", "N0", "M0", "II"),
        ("T3", "N0", "M0", "II"),
        ("T4", "N0", "M0", "III"),
        ("T3", "N1", "M0", "III"),  # the seed patient: stage III ileocecal NET
        ("TX", "N1", "M0", "III"),
        ("T0", "N2", "M0", "III"),
        ("T1", "N0", "M1a", "IV"),
        ("TX", "NX", "M1c", "IV"),
        ("T4", "NX", "M0", "III"),  # N does not matter for T4 M0
        ("T2", "NX", "M0", "unknown"),
        ("TX", "N0", "M0", "unknown"),
        ("T0", "N0", "M0", "unknown"),
        ("T0", "NX", "M0", "unknown"),
    ],
)
def test_it_stages_the_rows_clinicians_will_recognise(t, n, m, stage):
    assert ajcc_stage(t, n, m) == stage


@settings(max_examples=200, deadline=None)
@given(
    t=st.sampled_from(T_VALUES),
    n=st.sampled_from(N_VALUES),
    m=st.sampled_from(M_VALUES),
    site=st.sampled_from(JEJUNUM_ILEUM_SITES),
)
def test_jejunum_ileum_and_ileocecal_sites_use_the_jejunum_and_ileum_table(t, n, m, site):
    stage = ajcc_stage(t, n, m, primary_site=site)
    assert stage == oracle_stage(t, n, m)
    assert stage in {"I", "II", "III", "IV", "unknown"}


@settings(max_examples=200, deadline=None)
@given(t=st.sampled_from(T_VALUES), n=st.sampled_from(N_VALUES), m=st.sampled_from(M_VALUES))
def test_any_distant_metastasis_is_stage_iv_and_nodes_without_it_are_stage_iii(t, n, m):
    stage = ajcc_stage(t, n, m)
    if m != "M0":
        assert stage == "IV"
    elif n in ("N1", "N2"):
        assert stage == "III"
    else:
        assert stage != "IV"


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("t", ("T5", "N0", "M0")),
        ("t", ("t1", "N0", "M0")),
        ("t", ("T1a", "N0", "M0")),
        ("t", ("", "N0", "M0")),
        ("t", (None, "N0", "M0")),
        ("t", (1, "N0", "M0")),
        ("n", ("T1", "N3", "M0")),
        ("n", ("T1", "n0", "M0")),
        ("m", ("T1", "N0", "M1")),  # M1 must say a, b or c
        ("m", ("T1", "N0", "MX")),
        ("m", ("T1", "N0", "m1a")),
    ],
)
def test_it_refuses_unknown_tnm_values_naming_the_field(field, args):
    with pytest.raises(StagingError) as caught:
        ajcc_stage(*args)
    assert caught.value.field == field
    assert caught.value.code == "invalid_choice"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("site", OTHER_SITES)
def test_it_refuses_sites_staged_by_other_ajcc_tables(site):
    with pytest.raises(StagingError) as caught:
        ajcc_stage("T1", "N0", "M0", primary_site=site)
    assert caught.value.field == "primary_site"
    assert caught.value.code == "unsupported_site"
    assert "another AJCC table" in str(caught.value)
    assert "not yet supported" in str(caught.value)


@pytest.mark.parametrize("site", ["liver", "Ileum", "", None])
def test_it_refuses_a_primary_site_it_does_not_know(site):
    with pytest.raises(StagingError) as caught:
        ajcc_stage("T1", "N0", "M0", primary_site=site)
    assert caught.value.field == "primary_site"
    assert caught.value.code == "invalid_choice"


def test_the_primary_site_is_keyword_only():
    with pytest.raises(TypeError):
        ajcc_stage("T1", "N0", "M0", "ileum")  # type: ignore[misc]


# --- WHO 2019 grade ------------------------------------------------------------------------

GRADE_ORDER = ["G1", "G2", "G3"]


def oracle_grade_ki67(ki67: float) -> str:
    # The WHO table as intervals: G1 [0, 3), G2 [3, 20], G3 (20, 100].
    if 0 <= ki67 < 3:
        return "G1"
    if 3 <= ki67 <= 20:
        return "G2"
    return "G3"


def oracle_grade_mitoses(mitoses: float) -> str:
    # G1 [0, 2), G2 [2, 20], G3 (20, inf).
    if 0 <= mitoses < 2:
        return "G1"
    if 2 <= mitoses <= 20:
        return "G2"
    return "G3"


@pytest.mark.parametrize(
    ("ki67", "grade"),
    [(0, "G1"), (2.99, "G1"), (3, "G2"), (3.0, "G2"), (20, "G2"), (20.01, "G3"), (100, "G3")],
)
def test_the_ki67_boundaries_read_as_the_who_table(ki67, grade):
    assert who_grade("well", ki67, None) == grade


@pytest.mark.parametrize(
    ("mitoses", "grade"),
    [(0, "G1"), (1, "G1"), (1.9, "G1"), (2, "G2"), (20, "G2"), (21, "G3"), (20.5, "G3")],
)
def test_the_mitotic_boundaries_read_as_the_who_table(mitoses, grade):
    assert who_grade("well", None, mitoses) == grade


@pytest.mark.parametrize(
    ("ki67", "mitoses", "grade"),
    [
        (1, 1, "G1"),
        (1, 5, "G2"),  # mitoses outrank a low Ki-67
        (25, 1, "G3"),  # Ki-67 outranks a low count
        (4, 25, "G3"),
        (15, 15, "G2"),
    ],
)
def test_the_higher_grade_wins_when_ki67_and_mitoses_disagree(ki67, mitoses, grade):
    assert who_grade("well", ki67, mitoses) == grade


ki67_values = st.floats(min_value=0, max_value=100, allow_nan=False)
mitosis_values = st.floats(min_value=0, max_value=500, allow_nan=False) | st.integers(0, 500)


@settings(max_examples=200, deadline=None)
@given(ki67=ki67_values, mitoses=mitosis_values)
def test_the_grade_is_the_higher_of_the_two_single_measure_grades(ki67, mitoses):
    alone_ki67 = who_grade("well", ki67, None)
    alone_mitoses = who_grade("well", None, mitoses)
    both = who_grade("well", ki67, mitoses)
    assert both == max(alone_ki67, alone_mitoses, key=GRADE_ORDER.index)
    assert alone_ki67 == oracle_grade_ki67(ki67)
    assert alone_mitoses == oracle_grade_mitoses(mitoses)


@settings(max_examples=200, deadline=None)
@given(
    ki67=st.none() | ki67_values,
    mitoses=st.none() | mitosis_values,
)
def test_poorly_differentiated_disease_is_nec_whatever_the_numbers(ki67, mitoses):
    assert who_grade("poor", ki67, mitoses) == "NEC"
    assert who_grade("mixed", ki67, mitoses) == "MiNEN"


def test_a_well_differentiated_net_without_ki67_or_mitoses_cannot_be_graded():
    with pytest.raises(StagingError) as caught:
        who_grade("well", None, None)
    assert (caught.value.field, caught.value.code) == ("ki67_percent", "required")


@pytest.mark.parametrize("ki67", [-0.1, 100.1, math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("differentiation", DIFFERENTIATION)
def test_it_refuses_an_impossible_ki67(ki67, differentiation):
    with pytest.raises(StagingError) as caught:
        who_grade(differentiation, ki67, 1)
    assert (caught.value.field, caught.value.code) == ("ki67_percent", "out_of_range")


@pytest.mark.parametrize("mitoses", [-1, -0.01, math.nan, math.inf])
def test_it_refuses_an_impossible_mitotic_count(mitoses):
    with pytest.raises(StagingError) as caught:
        who_grade("well", 5, mitoses)
    assert (caught.value.field, caught.value.code) == ("mitoses_per_2mm2", "out_of_range")


@pytest.mark.parametrize(
    ("ki67", "mitoses", "field"),
    [(True, 1, "ki67_percent"), ("4", 1, "ki67_percent"), (4, False, "mitoses_per_2mm2")],
)
def test_it_refuses_booleans_and_text_where_a_number_is_expected(ki67, mitoses, field):
    with pytest.raises(StagingError) as caught:
        who_grade("well", ki67, mitoses)
    assert caught.value.field == field


@pytest.mark.parametrize("differentiation", ["moderate", "Well", "", None])
def test_it_refuses_an_unknown_differentiation(differentiation):
    with pytest.raises(StagingError) as caught:
        who_grade(differentiation, 5, 1)
    assert (caught.value.field, caught.value.code) == ("differentiation", "invalid_choice")


def test_the_seed_patient_is_g2():
    # The registration example of docs/api.md: well differentiated, Ki-67 4 %, 1 mitosis per 2 mm².
    assert who_grade("well", 4.0, 1) == "G2"
