"""The result rules of surveillance/schedule.py, pure: imaging warnings, lab analytes and units,
and the status of a stored item (docs/clinical-rules.md#surveillance-after-resection)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from surveillance.schedule import (
    LAB_ANALYTES,
    check_lab_result,
    imaging_warnings,
    lab_unit,
    status_of,
)

DUE = dt.date(2026, 8, 1)
WINDOW = dt.date(2026, 7, 2)


@pytest.mark.parametrize("modality", ["sstr_pet", "octreoscan", "fdg_pet"])
def test_functional_imaging_for_surveillance_warns_that_it_is_not_routine(modality):
    (warning,) = imaging_warnings(modality, "surveillance")

    assert warning.code == "functional_imaging_not_for_surveillance"
    assert "docs/clinical-rules.md#visits-and-markers" in warning.source


@pytest.mark.parametrize("purpose", ["suspected_recurrence", "response_assessment", "baseline"])
def test_functional_imaging_for_other_purposes_raises_nothing(purpose):
    assert imaging_warnings("sstr_pet", purpose) == []


@pytest.mark.parametrize("modality", ["ct", "mri"])
def test_ct_and_mri_are_the_surveillance_imaging(modality):
    assert imaging_warnings(modality, "surveillance") == []


def test_ultrasound_for_surveillance_warns_that_ct_or_mri_stays_due():
    (warning,) = imaging_warnings("ultrasound", "surveillance")

    assert warning.code == "not_surveillance_imaging"


def test_cga_and_5_hiaa_take_exactly_the_units_of_clinical_md():
    assert [u.unit for u in LAB_ANALYTES["chromogranin_a"].units] == [
        "ng/mL",
        "µg/L",
        "nmol/L",
        "U/L",
    ]
    assert [u.unit for u in LAB_ANALYTES["u5hiaa"].units] == ["mg/24h", "µmol/24h"]


@pytest.mark.parametrize("spelling", ["µg/L", "μg/L", "ug/L", "UG/L", "µg / L"])
def test_spellings_of_micrograms_per_litre_are_one_unit(spelling):
    assert lab_unit("chromogranin_a", spelling).unit == "µg/L"


def test_a_unit_of_another_analyte_is_not_allowed():
    assert lab_unit("chromogranin_a", "mg/24h") is None
    assert lab_unit("glucose", "ng/mL") is None


@pytest.mark.parametrize(
    "value", [-0.1, float("nan"), float("inf"), Decimal("NaN"), Decimal("sNaN"), True, "85", None]
)
def test_a_lab_value_must_be_a_finite_number_not_below_zero(value):
    assert "value" in check_lab_result("chromogranin_a", value, "ng/mL", None).errors


def test_a_value_beyond_the_plausibility_ceiling_is_refused_as_an_entry_error():
    errors = check_lab_result("glucose", 250, "mmol/L", None).errors

    assert "check the decimal point and the unit" in errors["value"][0]
    assert check_lab_result("glucose", 250, "mg/dL", None).errors == {}


def test_zero_is_a_possible_value():
    assert check_lab_result("chromogranin_a", 0, "ng/mL", None).errors == {}


@pytest.mark.parametrize(
    ("on_ppi", "codes"), [(True, ["cga_on_ppi"]), (False, []), (None, ["cga_ppi_unknown"])]
)
def test_chromogranin_a_warns_on_a_proton_pump_inhibitor_or_when_its_use_is_unknown(on_ppi, codes):
    check = check_lab_result("chromogranin_a", 90, "ng/mL", on_ppi)

    assert [w.code for w in check.warnings] == codes


def test_a_ppi_does_not_matter_for_other_analytes():
    assert check_lab_result("u5hiaa", 9, "mg/24h", True).warnings == ()


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (dt.date(2026, 7, 1), "upcoming"),
        (WINDOW, "due"),
        (DUE, "due"),
        (dt.date(2026, 8, 2), "overdue"),
    ],
)
def test_a_stored_item_is_upcoming_then_due_from_its_window_then_overdue(today, status):
    assert status_of("imaging", DUE, WINDOW, None, today) == status


def test_an_item_with_a_window_end_is_overdue_only_after_it():
    window_end = DUE + dt.timedelta(days=7)

    assert status_of("ssa_injection", DUE, DUE - dt.timedelta(days=7), window_end, window_end) == (
        "due"
    )


def test_the_status_of_an_unknown_kind_is_a_mistake():
    with pytest.raises(ValueError):
        status_of("biopsy", DUE, WINDOW, None, DUE)
