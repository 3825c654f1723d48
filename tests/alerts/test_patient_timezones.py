"""A patient's time zone is a canonical IANA name, whichever door it comes through.

Reminders load the zone on a worker that may have only the `tzdata` package: a host-specific
name (`localtime`) would make every reminder of the patient fail there.
"""

import datetime as dt
import zoneinfo

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from rest_framework.test import APIClient

from tests import factories
from treatments.models import Patient
from treatments.timezones import canonical_target, canonical_timezones, validate_canonical_timezone

REFUSED = {
    "localtime": "invalid_timezone",
    "posixrules": "invalid_timezone",
    "Factory": "invalid_timezone",
    "Mars/Olympus": "invalid_timezone",
    "": "invalid_timezone",
    "europe/london": "invalid_timezone",
    "US/Eastern": "timezone_not_canonical",
    "Asia/Calcutta": "timezone_not_canonical",
    "GMT": "timezone_not_canonical",
}


def code_of(value) -> str | None:
    try:
        validate_canonical_timezone(value)
    except ValidationError as exc:
        return exc.code
    return None


def offsets_2026(name: str) -> list:
    zone = zoneinfo.ZoneInfo(name)
    return [dt.datetime(2026, month, 15, 12, tzinfo=dt.UTC).astimezone(zone).utcoffset()
            for month in range(1, 13)]  # fmt: skip


def test_every_zone_the_host_offers_is_canonical_or_refused_with_a_reason():
    outcomes = {name: code_of(name) for name in zoneinfo.available_timezones()}

    accepted = {name for name, code in outcomes.items() if code is None}
    links = {name for name, code in outcomes.items() if code == "timezone_not_canonical"}
    assert accepted == canonical_timezones() & zoneinfo.available_timezones()
    # Each link names a canonical target, which is accepted and has the same rules.
    for name in links:
        target = canonical_target(name)
        assert target in accepted
        assert offsets_2026(name) == offsets_2026(target), name
    assert {"America/New_York", "Europe/London", "Europe/Amsterdam", "UTC"} <= accepted
    assert set(outcomes) == accepted | links | {"localtime", "Factory"} & set(outcomes)


def test_every_canonical_zone_loads_from_the_tzdata_package_alone():
    for name in canonical_timezones():
        zoneinfo.ZoneInfo.no_cache(name)  # raises if the tz files lack it


@pytest.mark.parametrize(("value", "code"), sorted(REFUSED.items()))
def test_host_names_placeholders_and_links_are_refused_with_a_code(value, code):
    assert code_of(value) == code


def test_a_link_is_refused_with_the_name_to_use_instead():
    with pytest.raises(ValidationError) as caught:
        validate_canonical_timezone("US/Eastern")

    assert "America/New_York" in " ".join(caught.value.messages)


def token_client(user) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": factories.PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["localtime", "US/Eastern", "Factory"])
def test_a_patient_cannot_set_a_non_canonical_zone_through_the_api(patient_user, course, value):
    response = token_client(patient_user).patch(
        "/api/v1/patients/me/", {"timezone": value}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "timezone" in response.json()["errors"]
    assert Patient.objects.get(pk=course.patient_id).timezone == "Europe/London"


@pytest.mark.django_db
def test_a_patient_can_set_a_canonical_zone_through_the_api(patient_user, course):
    response = token_client(patient_user).patch(
        "/api/v1/patients/me/", {"timezone": "America/New_York"}, format="json"
    )

    assert response.status_code == 200
    assert Patient.objects.get(pk=course.patient_id).timezone == "America/New_York"


@pytest.mark.django_db
def test_staff_cannot_set_a_non_canonical_zone_through_the_api(coordinator, course):
    response = token_client(coordinator).patch(
        f"/api/v1/patients/{course.patient_id}/", {"timezone": "localtime"}, format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["errors"]
    assert Patient.objects.get(pk=course.patient_id).timezone == "Europe/London"


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "valid"), [("localtime", False), ("US/Eastern", False),
                                              ("Asia/Kolkata", True)])  # fmt: skip
def test_the_admin_form_applies_the_same_rule(course, value, valid):
    model_admin = admin.site._registry[Patient]
    request = RequestFactory().get("/admin/")
    request.user = factories.user("root-tz", "coordinator")
    request.user.is_superuser = request.user.is_staff = True
    patient = Patient.objects.get(pk=course.patient_id)
    form_class = model_admin.get_form(request, patient)
    initial = {name: form_class.base_fields[name].prepare_value(getattr(patient, name, None))
               for name in form_class.base_fields if hasattr(patient, name)}  # fmt: skip
    data = {key: value_ for key, value_ in initial.items() if value_ is not None}
    data["timezone"] = value

    form = form_class(data=data, instance=patient)

    assert form.is_valid() is valid or "timezone" in form.errors
    assert ("timezone" in form.errors) is (not valid)


@pytest.mark.django_db
def test_the_model_refuses_it_for_any_other_writer(course):
    patient = Patient.objects.get(pk=course.patient_id)
    patient.timezone = "localtime"

    with pytest.raises(ValidationError) as caught:
        patient.full_clean(exclude=["care_team", "user"], validate_unique=False)

    assert "timezone" in caught.value.error_dict
