"""Role and care teams come from the token's claims; a change of either revokes the token.

Also the per-user throttle: counted in the cache, 429 with Retry-After past the rate, and
requests let through when the cache cannot be reached.
"""

import datetime as dt

import pytest
import redis
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from api import throttling
from api.models import TokenVersion
from tests import factories
from tests.api.figures import report

pytestmark = pytest.mark.django_db

MEMBERSHIP_TABLES = ("auth_user_groups", "auth_group", "treatments_careteam_members")


def tokens(user) -> dict:
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": factories.PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_the_access_token_claims_the_role_and_the_teams(coordinator, team_a, team_b):
    team_b.members.add(coordinator)

    claims = AccessToken(tokens(coordinator)["access"]).payload

    assert claims["role"] == "coordinator"
    assert claims["teams"] == sorted([team_a.pk, team_b.pk])
    assert claims["tv"] == 0  # never revoked: added to team B before any token existed


def test_a_request_reads_no_group_or_membership_table(coordinator, course):
    client = bearer(tokens(coordinator)["access"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/courses/{course.pk}/")

    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert not [table for table in MEMBERSHIP_TABLES if f'"{table}"' in sql], sql


def test_a_token_without_the_claims_still_works_from_the_tables(coordinator, course):
    legacy = AccessToken.for_user(coordinator)  # no tv, role or teams claim
    assert "teams" not in legacy.payload

    with CaptureQueriesContext(connection) as queries:
        response = bearer(str(legacy)).get(f"/api/v1/courses/{course.pk}/")

    assert response.status_code == 200
    assert '"auth_user_groups"' in " ".join(q["sql"] for q in queries.captured_queries)


def _leave_team_from_the_team(user, team, other) -> None:
    team.members.remove(user)


def _leave_team_from_the_user(user, team, other) -> None:
    user.care_teams.remove(team)


def _join_a_team_from_the_team(user, team, other) -> None:
    other.members.add(user)


def _join_a_team_from_the_user(user, team, other) -> None:
    user.care_teams.add(other)


def _team_cleared(user, team, other) -> None:
    team.members.clear()


def _user_teams_cleared(user, team, other) -> None:
    user.care_teams.clear()


def _role_changed(user, team, other) -> None:
    user.groups.clear()
    user.groups.add(Group.objects.get(name="clinician"))


def _role_group_emptied(user, team, other) -> None:
    Group.objects.get(name="coordinator").user_set.clear()


def _role_group_left_from_the_group(user, team, other) -> None:
    Group.objects.get(name="coordinator").user_set.remove(user)


def _made_superuser(user, team, other) -> None:
    user.is_superuser = True
    user.save()


@pytest.mark.parametrize(
    "change",
    [
        _leave_team_from_the_team, _leave_team_from_the_user, _join_a_team_from_the_team,
        _join_a_team_from_the_user, _team_cleared, _user_teams_cleared, _role_changed,
        _role_group_emptied, _role_group_left_from_the_group, _made_superuser,
    ],
)  # fmt: skip
def test_a_role_or_team_change_revokes_the_tokens_that_claim_the_old_ones(
    change, coordinator, team_a, team_b, course
):
    issued = tokens(coordinator)
    assert bearer(issued["access"]).get(f"/api/v1/courses/{course.pk}/").status_code == 200

    change(coordinator, team_a, team_b)

    access = bearer(issued["access"]).get(f"/api/v1/courses/{course.pk}/")
    refresh = APIClient().post(
        "/api/v1/auth/token/refresh/", {"refresh": issued["refresh"]}, format="json"
    )
    assert access.status_code == 401
    assert access.json()["code"] == "not_authenticated"
    assert refresh.status_code == 401
    report("token claims", f"{change.__name__.lstrip('_')}: access 401, refresh 401")


def test_a_new_login_after_leaving_a_team_no_longer_sees_its_courses(
    coordinator, team_a, team_b, course
):
    team_b.members.add(coordinator)
    team_a.members.remove(coordinator)

    fresh = bearer(tokens(coordinator)["access"])

    assert AccessToken(fresh._credentials["HTTP_AUTHORIZATION"][7:])["teams"] == [team_b.pk]
    assert fresh.get(f"/api/v1/courses/{course.pk}/").status_code == 404
    assert fresh.get("/api/v1/courses/").json()["results"] == []


def test_joining_a_team_after_login_shows_its_courses_once_signed_in_again(
    coordinator2, team_a, course
):
    before = tokens(coordinator2)
    assert bearer(before["access"]).get(f"/api/v1/courses/{course.pk}/").status_code == 404

    team_a.members.add(coordinator2)

    assert bearer(before["access"]).get(f"/api/v1/courses/{course.pk}/").status_code == 401
    after = bearer(tokens(coordinator2)["access"])
    assert after.get(f"/api/v1/courses/{course.pk}/").status_code == 200


def test_changes_to_another_user_leave_a_users_tokens_alone(coordinator, clinician, team_b):
    issued = tokens(coordinator)
    tokens(clinician)

    team_b.members.add(clinician)

    assert bearer(issued["access"]).get("/api/v1/courses/").status_code == 200


def test_a_user_without_live_tokens_is_not_revoked_by_membership_changes(team_a, team_b):
    fresh = factories.user("newcomer", "clinician", team_a)
    team_b.members.add(fresh)
    fresh.groups.add(Group.objects.get(name="coordinator"))

    assert not TokenVersion.objects.filter(user=fresh).exists()


# --- Throttle -----------------------------------------------------------------------------------
@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})


def test_the_user_throttle_answers_429_with_retry_after_past_its_rate(
    three_per_minute, coordinator
):
    # At 10 s into a minute: the fourth request falls in the same window, 50 s from its end.
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC), tick=False):
        client = bearer(tokens(coordinator)["access"])
        statuses = [client.get("/api/v1/courses/").status_code for _ in range(4)]
        throttled = client.get("/api/v1/courses/")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 1, 0, tzinfo=dt.UTC), tick=False):
        next_minute = client.get("/api/v1/courses/")

    assert statuses == [200, 200, 200, 429]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) == 50
    assert next_minute.status_code == 200
    report("token claims", "user throttle 3/minute: 200 x3, then 429 (Retry-After 50 s)")


def test_the_user_throttle_counts_each_user_apart(three_per_minute, coordinator, clinician):
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC), tick=False):
        first = bearer(tokens(coordinator)["access"])
        second = bearer(tokens(clinician)["access"])
        for _ in range(3):
            first.get("/api/v1/courses/")

        assert first.get("/api/v1/courses/").status_code == 429
        assert second.get("/api/v1/courses/").status_code == 200


def test_the_user_throttle_lets_requests_through_when_redis_is_down(
    three_per_minute, coordinator, monkeypatch
):
    client = bearer(tokens(coordinator)["access"])
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(throttling._COUNTER, "_client", nowhere)

    statuses = [client.get("/api/v1/courses/").status_code for _ in range(5)]

    assert statuses == [200] * 5


# --- Scoping of a row in hand ---------------------------------------------------------------------
def test_a_course_in_hand_is_visible_exactly_when_the_scoped_queryset_holds_it(
    coordinator, coordinator2, clinician, patient_user, course, course_b, neighbour_course
):
    from django.contrib.auth.models import User

    from treatments.roles import role_of
    from treatments.selectors import (
        course_is_visible_to,
        courses_visible_to,
        remember_scope,
        team_ids_of,
    )

    root = User.objects.create_superuser("root", "root@example.org", factories.PASSWORD)
    nobody = factories.user("nobody", None)
    integration = factories.user("feed", "integration", course_b.care_team)
    people = [coordinator, coordinator2, clinician, patient_user, root, nobody, integration]
    checked = 0
    for person in people:
        for with_claims in (False, True):
            user = User.objects.get(pk=person.pk)
            if with_claims:
                remember_scope(user, role_of(user), team_ids_of(user))
            for one in (course, course_b, neighbour_course):
                expected = courses_visible_to(user).filter(pk=one.pk).exists()
                assert course_is_visible_to(user, one) is expected, (person, one, with_claims)
                checked += 1
    assert checked == 42
    assert course_is_visible_to(patient_user, course)
    assert not course_is_visible_to(patient_user, neighbour_course)
    assert not course_is_visible_to(coordinator2, course)
