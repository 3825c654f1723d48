"""Every way a user's credentials change revokes the API tokens issued before, through HTTP.

Each row changes a coordinator's credentials one way (shell, admin, forms, a raw UPDATE that
skips save(), deactivation, deletion, "log out everywhere") after the coordinator has logged
in and rotated once. Then the old access token may not read a patient, the old refresh
token may not refresh, and the answers are 401s with the error body, never a 5xx. Where the
user can still log in, a new login works: the revocation is not wider than asked.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from api import credentials
from api.models import ReadAccess, TokenVersion
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
NEW_PASSWORD = "a-new-and-long-passphrase-42"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # The token endpoint's throttle counts in the cache, which outlives each test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def superuser(db) -> User:
    return factories.user("root", None, is_staff=True, is_superuser=True)


def login(username: str, password: str = factories.PASSWORD) -> Any:
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json")


def refresh(token: str) -> Any:
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def read_patient(access: str, patient_id: int) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(f"/api/v1/patients/{patient_id}/")


def as_admin(user: User) -> Client:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def assert_refused(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"code", "detail", "errors"}
    assert response.json()["code"] == "not_authenticated"


# --- The ways credentials change ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Change:
    """One way to change a user's credentials, and the password that logs in afterwards."""

    name: str
    apply: Callable[[User, User], None]  # (the user, a superuser)
    password_after: str | None  # None: the user cannot log in any more


def _set_password_and_save(user: User, root: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def _set_password_and_save_only_it(user: User, root: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])


def _raw_update_of_the_hash(user: User, root: User) -> None:
    # No save(), no signal: the token's password digest claim still catches it.
    User.objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))


def _admin_password_form(user: User, root: User) -> None:
    response = as_admin(root).post(
        f"/admin/auth/user/{user.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content[:500]


def _password_change_form(user: User, root: User) -> None:
    form = PasswordChangeForm(
        user,
        {
            "old_password": factories.PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert form.is_valid(), form.errors
    form.save()


def _password_reset_form(user: User, root: User) -> None:
    form = SetPasswordForm(user, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()


def _unusable_password(user: User, root: User) -> None:
    user.set_unusable_password()
    user.save()


def _admin_change_form_unticks_active(user: User, root: User) -> None:
    user.refresh_from_db()
    response = as_admin(root).post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_staff": "on",  # "is_active" left out: the box is unticked
            "groups": [g.pk for g in user.groups.all()],
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content[:2000]


def _deactivate_with_save(user: User, root: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def _deactivate_with_raw_update(user: User, root: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _delete(user: User, root: User) -> None:
    # The read log protects the users it names; this one's reads go first so it can go.
    ReadAccess.objects.filter(actor=user).delete()
    user.delete()


def _admin_log_out_everywhere_action(user: User, root: User) -> None:
    response = as_admin(root).post(
        "/admin/auth/user/",
        {"action": "log_out_everywhere", "_selected_action": [user.pk], "index": 0},
    )
    assert response.status_code == 302, response.content[:500]


def _log_out_everywhere_in_a_shell(user: User, root: User) -> None:
    credentials.log_out_everywhere(user)


CHANGES = [
    Change("set_password and save in a shell", _set_password_and_save, NEW_PASSWORD),
    Change("set_password and save of that field only", _set_password_and_save_only_it,
           NEW_PASSWORD),
    Change("a raw UPDATE of the password hash", _raw_update_of_the_hash, NEW_PASSWORD),
    Change("the admin's password form", _admin_password_form, NEW_PASSWORD),
    Change("the password change form", _password_change_form, NEW_PASSWORD),
    Change("the password reset form", _password_reset_form, NEW_PASSWORD),
    Change("an unusable password", _unusable_password, None),
    Change("the admin's change form unticking active", _admin_change_form_unticks_active, None),
    Change("deactivation saved", _deactivate_with_save, None),
    Change("deactivation by a raw UPDATE", _deactivate_with_raw_update, None),
    Change("deletion of the user", _delete, None),
    Change("the admin's log out everywhere action", _admin_log_out_everywhere_action,
           factories.PASSWORD),
    Change("log out everywhere from a shell", _log_out_everywhere_in_a_shell, factories.PASSWORD),
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_every_way_credentials_change_revokes_the_tokens_issued_before(
    change, coordinator, superuser, course
):
    first = login("coordinator").json()
    rotated = refresh(first["refresh"]).json()
    assert read_patient(rotated["access"], course.patient_id).status_code == 200

    change.apply(coordinator, superuser)

    for access in (first["access"], rotated["access"]):
        assert_refused(read_patient(access, course.patient_id))
    assert_refused(refresh(rotated["refresh"]))
    if change.password_after is None:
        assert login("coordinator", factories.PASSWORD).status_code == 401
        return
    again = login("coordinator", change.password_after)
    assert again.status_code == 200, again.content
    assert read_patient(again.json()["access"], course.patient_id).status_code == 200
    assert refresh(again.json()["refresh"]).status_code == 200


def test_a_password_change_leaves_other_users_tokens_alone(coordinator, clinician, course):
    mine = login("coordinator").json()
    theirs = login("clinician").json()

    coordinator.set_password(NEW_PASSWORD)
    coordinator.save()

    assert read_patient(mine["access"], course.patient_id).status_code == 401
    assert read_patient(theirs["access"], course.patient_id).status_code == 200
    assert refresh(theirs["refresh"]).status_code == 200


def test_reactivating_a_user_does_not_revive_the_tokens_of_before(coordinator, course):
    before = login("coordinator").json()
    coordinator.is_active = False
    coordinator.save()
    coordinator.is_active = True
    coordinator.save()

    assert_refused(read_patient(before["access"], course.patient_id))
    assert_refused(refresh(before["refresh"]))
    assert login("coordinator").status_code == 200


def test_tokens_minted_without_the_generation_claim_die_with_the_first_revocation(
    coordinator, course
):
    # Tokens issued before the claim existed (or by RefreshToken.for_user in a shell) count as
    # generation 0: good until the first revocation, refused after it.
    legacy = RefreshToken.for_user(coordinator)
    assert "tv" not in legacy.payload
    assert read_patient(str(legacy.access_token), course.patient_id).status_code == 200

    credentials.revoke_tokens(coordinator, credentials.LOGOUT_EVERYWHERE)

    assert_refused(read_patient(str(legacy.access_token), course.patient_id))
    assert_refused(refresh(str(legacy)))


def test_the_refresh_token_of_a_deleted_user_is_a_401_not_a_server_error(coordinator):
    tokens = login("coordinator").json()
    coordinator.delete()

    response = refresh(tokens["refresh"])

    assert_refused(response)


def test_the_refresh_token_of_a_deactivated_user_is_a_401(coordinator):
    tokens = login("coordinator").json()
    User.objects.filter(pk=coordinator.pk).update(is_active=False)

    assert_refused(refresh(tokens["refresh"]))


def test_saves_that_do_not_touch_credentials_revoke_nothing(coordinator, course):
    tokens = login("coordinator").json()
    coordinator.first_name = "Rita"
    coordinator.save()
    coordinator.last_login = coordinator.date_joined
    coordinator.save(update_fields=["last_login"])

    assert read_patient(tokens["access"], course.patient_id).status_code == 200
    assert not TokenVersion.objects.filter(user=coordinator).exists()


def test_log_out_everywhere_also_ends_the_users_browser_sessions(coordinator, clinician):
    theirs, mine = as_admin(coordinator), as_admin(clinician)
    assert theirs.get("/admin/").status_code == 200

    ended = credentials.log_out_everywhere(coordinator)

    assert ended == 1
    assert theirs.get("/admin/").status_code == 302  # to the login page
    assert mine.get("/admin/").status_code == 200
    assert Session.objects.count() == 1


def test_the_admin_action_keeps_the_session_that_runs_it(superuser, coordinator):
    admin_client = as_admin(superuser)

    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "log_out_everywhere", "_selected_action": [superuser.pk, coordinator.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 users logged out everywhere" in response.content.decode()
    assert admin_client.get("/admin/").status_code == 200
    assert TokenVersion.objects.get(user=superuser).reason == credentials.LOGOUT_EVERYWHERE
    assert TokenVersion.objects.get(user=coordinator).version == 1


def test_staff_without_the_user_permission_cannot_log_anyone_out(coordinator, clinician):
    response = as_admin(coordinator).post(
        "/admin/auth/user/",
        {"action": "log_out_everywhere", "_selected_action": [clinician.pk]},
    )

    assert response.status_code == 403
    assert not TokenVersion.objects.filter(user=clinician).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_refresh_token_sent_by_ten_clients_at_once_is_rotated_once():
    """A stolen refresh token raced against its owner's: the database lets one of them win."""
    team = factories.team()
    factories.user("coordinator", "coordinator", team)
    token = login("coordinator").json()["refresh"]
    threads, barrier = 10, threading.Barrier(10)
    statuses: list[int] = []
    lock = threading.Lock()

    def rotate() -> None:
        try:
            barrier.wait(timeout=10)
            status = refresh(token).status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    workers = [threading.Thread(target=rotate) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert sorted(statuses) == [200] + [401] * (threads - 1)
