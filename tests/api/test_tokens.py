"""JWT lifetimes, refresh rotation, lockout and throttling of the token endpoints (S5, S6, S7).

Revocation (password changes and the rest) is tested in tests/security/test_tokens_revocation.py.
"""

import datetime as dt

import jwt
import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.utils import get_md5_hash_password

from api.credentials import token_version
from tests import factories
from tests.api.figures import report
from treatments.roles import role_of
from treatments.selectors import team_ids_of

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"


def credentials(username: str, password: str = factories.PASSWORD) -> dict:
    return {"username": username, "password": password}


def login(client: APIClient, username: str, password: str = factories.PASSWORD, **extra):
    return client.post(TOKEN, credentials(username, password), format="json", **extra)


def bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def test_an_access_token_works_until_it_expires(coordinator):
    client = APIClient()
    start = dt.datetime.now(tz=dt.UTC)
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    with time_machine.travel(start, tick=False):
        access = login(client, "coordinator").json()["access"]

    with time_machine.travel(start + lifetime - dt.timedelta(seconds=5), tick=False):
        assert client.get("/api/v1/courses/", **bearer(access)).status_code == 200
    with time_machine.travel(start + lifetime + dt.timedelta(seconds=5), tick=False):
        expired = client.get("/api/v1/courses/", **bearer(access))

    assert expired.status_code == 401
    assert expired.json()["code"] == "not_authenticated"


def test_the_access_token_lives_no_longer_than_fifteen_minutes():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= dt.timedelta(minutes=15)
    assert settings.SIMPLE_JWT["ROTATE_REFRESH_TOKENS"] is True
    assert settings.SIMPLE_JWT["BLACKLIST_AFTER_ROTATION"] is True


def test_a_refresh_token_is_rotated_and_the_old_one_is_refused(coordinator):
    client = APIClient()
    first = login(client, "coordinator").json()["refresh"]

    rotated = client.post(REFRESH, {"refresh": first}, format="json")
    reused = client.post(REFRESH, {"refresh": first}, format="json")

    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first
    assert reused.status_code == 401
    assert reused.json()["code"] == "not_authenticated"
    newest = client.post(REFRESH, {"refresh": rotated.json()["refresh"]}, format="json")
    assert newest.status_code == 200


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_rotation_never_extends_a_login_beyond_its_first_refresh_lifetime(coordinator):
    """A stolen refresh token, rotated every day, still dies when the login's first one would."""
    client = APIClient()
    start = dt.datetime.now(tz=dt.UTC).replace(microsecond=0)
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    with time_machine.travel(start, tick=False):
        token = login(client, "coordinator").json()["refresh"]
    end = int((start + lifetime).timestamp())
    assert _claims(token)["exp"] == end

    day = dt.timedelta(days=1)
    expiries = []
    for n in range(1, lifetime.days):
        with time_machine.travel(start + n * day, tick=False):
            answer = client.post(REFRESH, {"refresh": token}, format="json")
        assert answer.status_code == 200, (n, answer.content)
        token = answer.json()["refresh"]
        expiries.append(_claims(token)["exp"])
    with time_machine.travel(start + lifetime - dt.timedelta(seconds=60), tick=False):
        last = client.post(REFRESH, {"refresh": token}, format="json").json()
    with time_machine.travel(start + lifetime + dt.timedelta(seconds=5), tick=False):
        too_late = client.post(REFRESH, {"refresh": last["refresh"]}, format="json")
        late_read = client.get("/api/v1/courses/", **bearer(last["access"]))

    assert expiries == [end] * (lifetime.days - 1)
    assert _claims(last["access"])["exp"] == end, "an access token outliving its login"
    assert too_late.status_code == 401
    assert too_late.json()["code"] == "not_authenticated"
    assert late_read.status_code == 401


def test_a_refresh_token_is_used_up_even_when_its_rotation_is_not_read(coordinator):
    client = APIClient()
    first = login(client, "coordinator").json()["refresh"]

    client.post(REFRESH, {"refresh": first}, format="json")  # the answer is lost
    replays = [client.post(REFRESH, {"refresh": first}, format="json") for _ in range(3)]

    assert [r.status_code for r in replays] == [401, 401, 401]
    assert {r.json()["code"] for r in replays} == {"not_authenticated"}


def test_a_deactivated_users_tokens_are_refused(coordinator):
    client = APIClient()
    tokens = login(client, "coordinator").json()
    coordinator.is_active = False
    coordinator.save(update_fields=["is_active"])

    read = client.get("/api/v1/courses/", **bearer(tokens["access"]))
    refreshed = client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    again = login(client, "coordinator")

    assert read.status_code == refreshed.status_code == again.status_code == 401
    assert {r.json()["code"] for r in (read, refreshed, again)} == {"not_authenticated"}


def test_an_access_token_cannot_refresh_and_a_refresh_token_cannot_read(coordinator):
    client = APIClient()
    tokens = login(client, "coordinator").json()

    assert client.post(REFRESH, {"refresh": tokens["access"]}, format="json").status_code == 401
    assert client.get("/api/v1/courses/", **bearer(tokens["refresh"])).status_code == 401


# --- Lockout (django-axes) ---------------------------------------------------------------------
def test_repeated_wrong_passwords_lock_the_username_out_until_the_cool_off(coordinator, clinician):
    client = APIClient()
    limit = settings.AXES_FAILURE_LIMIT
    start = dt.datetime.now(tz=dt.UTC)

    with time_machine.travel(start, tick=False):
        failures = [login(client, "coordinator", "wrong").status_code for _ in range(limit)]
        locked = login(client, "coordinator")  # even the right password, now
        spoofed = login(client, "coordinator", HTTP_X_FORWARDED_FOR="203.0.113.9")
        neighbour = login(client, "clinician")
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=5)):
        still_locked = login(client, "coordinator")
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=5)):
        after = login(client, "coordinator")

    assert failures == [401] * limit
    assert locked.status_code == 429
    assert locked.json() == {
        "code": "locked_out", "detail": "Too many failed logins; try again later.", "errors": {},
    }  # fmt: skip
    assert spoofed.status_code == 429, "a forged X-Forwarded-For must not open a new lock"
    assert neighbour.status_code == 200, "another username from the same address is unaffected"
    assert still_locked.status_code == 429
    assert after.status_code == 200
    assert set(after.json()) == {"access", "refresh"}
    report(
        "tokens",
        f"lockout after {limit} wrong passwords, for {settings.AXES_COOLOFF_TIME.total_seconds():.0f}"
        " s; another username unaffected",
    )


def test_a_success_before_the_limit_resets_the_failure_count(coordinator):
    client = APIClient()
    limit = settings.AXES_FAILURE_LIMIT

    for _ in range(limit - 1):
        assert login(client, "coordinator", "wrong").status_code == 401
    assert login(client, "coordinator").status_code == 200
    for _ in range(limit - 1):
        assert login(client, "coordinator", "wrong").status_code == 401

    assert login(client, "coordinator").status_code == 200


# --- Throttle -----------------------------------------------------------------------------------
def _token_rate() -> int:
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"].split("/")[0])


def test_the_token_endpoint_is_throttled_with_retry_after(coordinator):
    client = APIClient()
    rate = _token_rate()

    statuses = [login(client, "coordinator").status_code for _ in range(rate)]
    throttled = login(client, "coordinator")

    assert statuses == [200] * rate
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert throttled.json()["detail"]
    assert 0 < int(throttled["Retry-After"]) <= 60
    report(
        "tokens",
        f"token endpoint: {rate} requests, then 429 (Retry-After {throttled['Retry-After']} s)",
    )


def test_a_forged_x_forwarded_for_does_not_reset_the_throttle(coordinator):
    client = APIClient()
    for _ in range(_token_rate()):
        login(client, "coordinator")

    spoofed = [
        login(client, "coordinator", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(1, 4)
    ]

    assert spoofed == [429, 429, 429]


def test_the_refresh_endpoint_shares_the_token_throttle(coordinator):
    client = APIClient()
    refresh = login(client, "coordinator").json()["refresh"]
    for _ in range(_token_rate() - 1):
        login(client, "coordinator")

    response = client.post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_the_throttle_counts_per_address_not_per_username(coordinator, clinician):
    client = APIClient()
    for _ in range(_token_rate()):
        login(client, "coordinator")

    assert login(client, "clinician").status_code == 429
    elsewhere = APIClient(REMOTE_ADDR="192.0.2.44")
    assert login(elsewhere, "clinician").status_code == 200


# --- Signing key --------------------------------------------------------------------------------
PUBLISHED_KEY = "netcare-insecure-development-key-not-for-production"


def _minted(user, key: str) -> str:
    """An access token for ``user`` with every claim a real one has, signed with ``key``."""
    now = dt.datetime.now(tz=dt.UTC)
    claims = {
        "token_type": "access",
        "exp": int((now + dt.timedelta(minutes=5)).timestamp()),
        "iat": int(now.timestamp()),
        "jti": "f" * 32,
        "user_id": str(user.pk),
        "tv": token_version(user),
        "hash_password": get_md5_hash_password(user.password),
        "role": role_of(user).value,
        "teams": team_ids_of(user),
    }
    return jwt.encode(claims, key, algorithm="HS256")


def test_a_token_signed_with_the_key_once_in_the_repository_is_refused(coordinator):
    client = APIClient()

    forged = client.get("/api/v1/courses/", **bearer(_minted(coordinator, PUBLISHED_KEY)))
    genuine = client.get("/api/v1/courses/", **bearer(_minted(coordinator, settings.SECRET_KEY)))

    assert settings.SECRET_KEY != PUBLISHED_KEY
    assert forged.status_code == 401
    assert genuine.status_code == 200, "the minted claims are those of a real token"
