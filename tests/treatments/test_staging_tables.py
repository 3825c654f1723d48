"""Both AJCC 8th edition NET tables, cell by cell, and every N/node rule.

The expected stages are typed out from the published stage groups, not computed:

- jejunum and ileum NET: I = T1 N0 M0; II = T2/T3 N0 M0; III = T4 N0 M0, or any T with N1/N2
  and M0; IV = any M1.
- colon and rectum NET (ileocecal valve, caecum): I = T1 (T1a, T1b) N0 M0; IIA = T2 N0 M0;
  IIB = T3 N0 M0; IIIA = T4 N0 M0; IIIB = any T N1 M0; IV = any M1; no N2.

Where TX or NX could stand for values with different stages, the answer is "unknown".
"""

from __future__ import annotations

import datetime as dt

import pytest

from treatments import staging

M1 = ("M1a", "M1b", "M1c")

# M0 rows of the jejunum and ileum table: T -> stage for NX, N0, N1, N2.
JEJUNUM_ILEUM_M0 = {
    "TX": ("unknown", "unknown", "III", "III"),
    "T0": ("unknown", "unknown", "III", "III"),
    "T1": ("unknown", "I", "III", "III"),
    "T2": ("unknown", "II", "III", "III"),
    "T3": ("unknown", "II", "III", "III"),
    "T4": ("III", "III", "III", "III"),  # III with or without nodes: NX does not matter
}
JEJUNUM_ILEUM_N = ("NX", "N0", "N1", "N2")

# M0 rows of the colon and rectum NET table: T -> stage for NX, N0, N1.
COLON_RECTUM_M0 = {
    "TX": ("unknown", "unknown", "IIIB"),
    "T0": ("unknown", "unknown", "IIIB"),
    "T1": ("unknown", "I", "IIIB"),
    "T1a": ("unknown", "I", "IIIB"),
    "T1b": ("unknown", "I", "IIIB"),
    "T2": ("unknown", "IIA", "IIIB"),
    "T3": ("unknown", "IIB", "IIIB"),
    "T4": ("unknown", "IIIA", "IIIB"),  # NX: IIIA with N0, IIIB with N1
}
COLON_RECTUM_N = ("NX", "N0", "N1")


def _cells(table: dict[str, tuple[str, ...]], ns: tuple[str, ...]):
    for t, stages in table.items():
        for n, stage in zip(ns, stages, strict=True):
            yield t, n, "M0", stage
            for m in M1:
                yield t, n, m, "IV"


JEJUNUM_ILEUM_CELLS = list(_cells(JEJUNUM_ILEUM_M0, JEJUNUM_ILEUM_N))
COLON_RECTUM_CELLS = list(_cells(COLON_RECTUM_M0, COLON_RECTUM_N))


def test_the_tables_above_have_every_t_n_m_cell():
    assert len(JEJUNUM_ILEUM_CELLS) == 6 * 4 * 4
    assert len(COLON_RECTUM_CELLS) == 8 * 3 * 4
    assert set(JEJUNUM_ILEUM_M0) == set(staging.T_VALUES)
    assert set(COLON_RECTUM_M0) == set(staging.COLON_T_VALUES)


@pytest.mark.parametrize("site", staging.JEJUNUM_ILEUM_SITES)
@pytest.mark.parametrize(("t", "n", "m", "stage"), JEJUNUM_ILEUM_CELLS)
def test_every_jejunum_ileum_cell_stages_as_the_table(site, t, n, m, stage):
    assert staging.ajcc_stage(t, n, m, primary_site=site) == stage


@pytest.mark.parametrize("site", staging.COLON_RECTUM_NET_SITES)
@pytest.mark.parametrize(("t", "n", "m", "stage"), COLON_RECTUM_CELLS)
def test_every_colon_rectum_cell_stages_as_the_table(site, t, n, m, stage):
    assert staging.ajcc_stage(t, n, m, primary_site=site) == stage


@pytest.mark.parametrize("t", staging.COLON_T_VALUES)
@pytest.mark.parametrize("m", ("M0", *M1))
def test_the_colon_rectum_table_has_no_n2(t, m):
    with pytest.raises(staging.StagingError) as caught:
        staging.ajcc_stage(t, "N2", m, primary_site="cecum")
    assert (caught.value.field, caught.value.code) == ("n", "not_in_table")


@pytest.mark.parametrize("t", ["T1a", "T1b"])
def test_t1a_and_t1b_exist_only_on_the_colon_rectum_table(t):
    with pytest.raises(staging.StagingError) as caught:
        staging.ajcc_stage(t, "N0", "M0", primary_site="ileum")
    assert (caught.value.field, caught.value.code) == ("t", "invalid_choice")


def test_the_same_t_and_n_stage_differently_on_the_two_tables():
    # The reason `ileocecal` (terminal ileum) and `cecum` are separate sites.
    assert staging.ajcc_stage("T3", "N0", "M0", primary_site="ileocecal") == "II"
    assert staging.ajcc_stage("T3", "N0", "M0", primary_site="cecum") == "IIB"
    assert staging.ajcc_stage("T4", "N0", "M0", primary_site="ileocecal") == "III"
    assert staging.ajcc_stage("T4", "N0", "M0", primary_site="ileocecal_valve") == "IIIA"


@pytest.mark.parametrize(
    ("site", "system"),
    [
        ("jejunum", "ajcc8_jejunum_ileum"),
        ("ileum", "ajcc8_jejunum_ileum"),
        ("ileocecal", "ajcc8_jejunum_ileum"),
        ("ileocecal_valve", "ajcc8_colon_rectum_net"),
        ("cecum", "ajcc8_colon_rectum_net"),
    ],
)
def test_each_site_names_its_stage_system(site, system):
    assert staging.stage_system_for(site, "well") == system
    assert staging.stage_system_for(site, "poor") == "unsupported"
    assert staging.stage_system_for(site, "mixed") == "unsupported"


@pytest.mark.parametrize(
    ("stage", "risk"),
    [
        ("I", "I"), ("II", "II"), ("IIA", "II"), ("IIB", "II"), ("III", "III"),
        ("IIIA", "III"), ("IIIB", "III"), ("IV", "IV"), ("unknown", "unknown"),
        (None, "unknown"),
    ],
)  # fmt: skip
def test_sub_stages_count_as_their_group_for_the_risk_table(stage, risk):
    assert staging.risk_stage(stage) == risk


# --- N against the nodes ---------------------------------------------------------------------

J, C, U = "ajcc8_jejunum_ileum", "ajcc8_colon_rectum_net", "unsupported"

# (system, N, nodes examined, nodes positive, mesenteric mass > 2 cm, expected error codes)
NODE_RULES = {
    # Jejunum and ileum: N0 none; N1 fewer than 12 nodes, no mass; N2 a mass or 12 or more.
    "J N0 all negative": (J, "N0", 14, 0, False, []),
    "J N0 none examined": (J, "N0", 0, 0, False, []),
    "J N0 with 3 positive (issue example)": (J, "N0", 14, 3, False, ["n_contradicts_nodes"]),
    "J N0 with 12 positive": (J, "N0", 14, 12, False, ["n_contradicts_nodes"]),
    "J N0 with a mass": (J, "N0", 14, 0, True, ["n_contradicts_mass"]),
    "J N1 with 1 positive": (J, "N1", 14, 1, False, []),
    "J N1 with 11 positive": (J, "N1", 14, 11, False, []),
    "J N1 with 12 positive": (J, "N1", 20, 12, False, ["n1_with_12_or_more_nodes"]),
    "J N1 with a mass": (J, "N1", 14, 3, True, ["n_contradicts_mass"]),
    "J N1 all examined negative": (J, "N1", 14, 0, False, ["n_without_positive_nodes"]),
    "J N1 none examined": (J, "N1", 0, 0, False, []),
    "J N2 with 12 positive": (J, "N2", 20, 12, False, []),
    "J N2 with a mass and 3 positive": (J, "N2", 14, 3, True, []),
    "J N2 with a mass, none examined": (J, "N2", 0, 0, True, []),
    "J N2 with a mass, all negative": (J, "N2", 14, 0, True, []),
    "J N2 with 11 positive, no mass": (J, "N2", 14, 11, False, ["n2_not_justified"]),
    "J N2 none examined, no mass": (J, "N2", 0, 0, False, ["n2_not_justified"]),
    "J N2 all negative, no mass": (
        J, "N2", 14, 0, False, ["n2_not_justified", "n_without_positive_nodes"],
    ),
    "J NX none examined": (J, "NX", 0, 0, False, []),
    "J NX with positive nodes": (J, "NX", 5, 2, False, ["n_contradicts_nodes"]),
    "J NX with a mass": (J, "NX", 0, 0, True, ["n_contradicts_mass"]),
    "J more positive than examined": (J, "N1", 9, 10, False, ["more_positive_than_examined"]),
    # Colon and rectum NET: N0 or N1 only; no 12-node rule.
    "C N0 all negative": (C, "N0", 14, 0, False, []),
    "C N0 with 3 positive": (C, "N0", 14, 3, False, ["n_contradicts_nodes"]),
    "C N0 with a mass": (C, "N0", 14, 0, True, ["n_contradicts_mass"]),
    "C N1 with 15 positive": (C, "N1", 20, 15, False, []),
    "C N1 with a mass": (C, "N1", 14, 3, True, []),
    "C N1 all examined negative": (C, "N1", 14, 0, False, ["n_without_positive_nodes"]),
    "C N2": (C, "N2", 20, 15, True, ["not_in_table"]),
    "C more positive than examined": (C, "N1", 2, 3, False, ["more_positive_than_examined"]),
    # NEC and MiNEN: only the rules every table shares.
    "U N0 with 3 positive": (U, "N0", 14, 3, False, ["n_contradicts_nodes"]),
    "U N1 with 15 positive": (U, "N1", 20, 15, False, []),
    "U N2 with 3 positive, no mass": (U, "N2", 14, 3, False, []),
    "U N1 all examined negative": (U, "N1", 14, 0, False, ["n_without_positive_nodes"]),
}  # fmt: skip


@pytest.mark.parametrize(
    ("system", "n", "examined", "positive", "mass", "codes"), NODE_RULES.values(), ids=NODE_RULES
)
def test_n_agrees_with_the_nodes_as_the_n_definitions_read(
    system, n, examined, positive, mass, codes
):
    issues = staging.node_issues(
        system=system,
        n=n,
        nodes_examined=examined,
        nodes_positive=positive,
        mesenteric_mass_over_2cm=mass,
    )

    assert sorted(issue.code for issue in issues) == sorted(codes)
    for issue in issues:
        expected_field = "nodes_positive" if issue.code == "more_positive_than_examined" else "n"
        assert issue.field == expected_field
        if issue.field == "n":
            assert "N definitions" in issue.message  # the message names the rule


def test_the_issue_example_says_which_n_the_nodes_make_it():
    (issue,) = staging.node_issues(
        system=J, n="N0", nodes_examined=14, nodes_positive=3, mesenteric_mass_over_2cm=False
    )
    assert "at least N1" in issue.message
    assert "jejunum and ileum" in issue.message


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_node_counts_are_whole_numbers(value):
    with pytest.raises(staging.StagingError) as caught:
        staging.node_issues(system=J, n="N1", nodes_examined=14, nodes_positive=value)
    assert caught.value.field == "nodes_positive"


# --- The whole assessment: NEC/MiNEN, multifocal primaries, size, warnings -----------------


def assessed(**changes):
    facts = {
        "primary_site": "ileum", "differentiation": "well", "t": "T3", "n": "N1", "m": "M0",
        "ki67_percent": 4.0, "mitoses_per_2mm2": 1, "nodes_examined": 14, "nodes_positive": 3,
    } | changes  # fmt: skip
    return staging.assess(**facts)


@pytest.mark.parametrize(
    ("site", "chapter"),
    [("ileum", "small intestine"), ("ileocecal", "small intestine"), ("cecum", "colon")],
)
@pytest.mark.parametrize(("differentiation", "grade"), [("poor", "NEC"), ("mixed", "MiNEN")])
def test_nec_and_minen_are_not_staged_and_a_warning_names_the_chapter(
    site, chapter, differentiation, grade
):
    result = assessed(
        primary_site=site, differentiation=differentiation, ki67_percent=70.0, t="T2", n="N0",
        nodes_positive=0,
    )  # fmt: skip

    assert result.errors == {}
    assert (result.stage, result.stage_system, result.grade) == (None, "unsupported", grade)
    assert result.warnings[0].code == "stage_system_unsupported"
    assert chapter in result.warnings[0].detail
    assert "carcinoma" in result.warnings[0].detail


@pytest.mark.parametrize(
    ("t", "count", "stored_t", "stored_count", "display"),
    [
        ("T3", None, "T3", 1, "T3"),
        ("T3", 1, "T3", 1, "T3"),
        ("T3", 4, "T3", 4, "T3(m)"),
        ("T3(m)", 3, "T3", 3, "T3(m)"),
        ("T3(m)", None, "T3", None, "T3(m)"),  # several, number not recorded: not guessed
        ("T3(2)", None, "T3", 2, "T3(m)"),
        ("T3(2)", 2, "T3", 2, "T3(m)"),
        ("TX(m)", 2, "TX", 2, "TX(m)"),
    ],
)
def test_multiple_primaries_are_shown_with_m_and_staged_by_the_highest_t(
    t, count, stored_t, stored_count, display
):
    result = assessed(t=t, tumour_count=count)

    assert result.errors == {}
    assert (result.t, result.tumour_count, result.t_display) == (stored_t, stored_count, display)
    assert result.stage == "III"


@pytest.mark.parametrize(
    ("t", "count", "field"),
    [
        ("T3(m)", 1, "diagnosis.tumour_count"),
        ("T3(2)", 3, "diagnosis.tumour_count"),
        ("T3(1)", None, "diagnosis.t"),
        ("T0", 2, "diagnosis.tumour_count"),
        ("T0(m)", None, "diagnosis.tumour_count"),
        ("T3", 0, "diagnosis.tumour_count"),
        ("T3", 101, "diagnosis.tumour_count"),
        ("T3", True, "diagnosis.tumour_count"),
        ("T5(m)", 2, "diagnosis.t"),
        ("T3(x)", 2, "diagnosis.t"),
    ],
)
def test_contradictory_or_impossible_tumour_counts_are_refused(t, count, field):
    result = assessed(t=t, tumour_count=count)

    assert field in result.errors
    assert result.stage is None


@pytest.mark.parametrize(
    ("site", "t", "size", "field"),
    [
        ("ileum", "T1", 11, "diagnosis.t"),  # T1 is at most 1 cm on the ileum table
        ("cecum", "T1", 21, "diagnosis.t"),  # at most 2 cm on the colon table
        ("cecum", "T1a", 10, "diagnosis.t"),  # T1a is under 1 cm
        ("cecum", "T1b", 9.5, "diagnosis.t"),  # T1b is 1-2 cm
        ("cecum", "T1b", 20.5, "diagnosis.t"),
        ("cecum", "T1a", None, "diagnosis.tumour_size_mm"),  # defined by size
        ("ileum", "T3", 0, "diagnosis.tumour_size_mm"),
        ("ileum", "T3", -4, "diagnosis.tumour_size_mm"),
    ],
)
def test_t_must_agree_with_the_tumour_size(site, t, size, field):
    result = assessed(primary_site=site, t=t, n="N0", nodes_positive=0, tumour_size_mm=size)

    assert field in result.errors


@pytest.mark.parametrize(
    ("site", "t", "size", "stage"),
    [
        ("ileum", "T1", 10, "I"),
        ("ileum", "T2", 8, "II"),  # muscularis propria invaded: T2 whatever the size
        ("cecum", "T1", 20, "I"),
        ("cecum", "T1a", 9.9, "I"),
        ("cecum", "T1b", 10, "I"),
        ("cecum", "T1b", 20, "I"),
        ("ileocecal_valve", "T2", 25, "IIA"),
    ],
)
def test_sizes_within_the_t_definition_are_accepted(site, t, size, stage):
    result = assessed(primary_site=site, t=t, n="N0", nodes_positive=0, tumour_size_mm=size)

    assert result.errors == {}
    assert result.stage == stage


@pytest.mark.parametrize(
    ("differentiation", "ki67", "mitoses", "codes"),
    [
        ("well", 80.0, None, ["well_differentiated_with_very_high_ki67"]),
        ("well", 56.0, None, ["well_differentiated_with_very_high_ki67"]),
        ("well", 55.0, None, []),
        ("well", 30.0, 25, []),
        ("well", 1.0, 25, ["ki67_and_mitoses_disagree"]),
        ("well", 25.0, 1, ["ki67_and_mitoses_disagree"]),
        ("well", 4.0, 1, []),
        ("poor", 2.0, None, ["poorly_differentiated_with_low_ki67"]),
        ("poor", 20.0, None, ["poorly_differentiated_with_low_ki67"]),
        ("poor", 20.5, None, []),
        ("poor", 70.0, 10, ["poorly_differentiated_with_few_mitoses"]),
        ("poor", 70.0, 30, []),
        ("mixed", 2.0, 1, []),
    ],
)
def test_implausible_grades_are_accepted_with_a_warning(differentiation, ki67, mitoses, codes):
    notices = staging.grade_warnings(differentiation, ki67, mitoses)

    assert [notice.code for notice in notices] == codes
    assert all(notice.source.startswith("WHO 2019") for notice in notices)


def test_an_implausible_grade_warns_through_the_assessment_too():
    result = assessed(ki67_percent=80.0, mitoses_per_2mm2=25)

    assert result.errors == {}
    assert result.grade == "G3"
    assert [w.code for w in result.warnings] == ["well_differentiated_with_very_high_ki67"]


# --- Dates -----------------------------------------------------------------------------------

BORN = dt.date(1961, 4, 2)


@pytest.mark.parametrize(
    ("value", "birth_date", "refused"),
    [
        (dt.date(1916, 2, 1), BORN, True),  # a digit swap of 1961
        (dt.date(1, 1, 2), BORN, True),
        (dt.date(1, 1, 2), None, True),
        (dt.date(1899, 12, 31), None, True),
        (dt.date(1900, 1, 1), None, False),
        (BORN - dt.timedelta(days=1), BORN, True),
        (BORN, BORN, False),
        (dt.date(2026, 2, 1), BORN, False),
    ],
)
def test_nothing_clinical_is_dated_before_the_birth_date_or_1900(value, birth_date, refused):
    issue = staging.clinical_date_issue(value, birth_date=birth_date)

    assert (issue is not None) == refused
    if refused and birth_date is not None and value >= dt.date(1900, 1, 1):
        assert birth_date.isoformat() in issue
