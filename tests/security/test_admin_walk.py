"""Every admin URL, walked as the other team and as the owning team.

The URLs are not listed by hand: they are read from ``admin.site`` (each registered
ModelAdmin's ``get_urls()`` and the site's own), so a class or view added later is walked
too. For the other team (a coordinator and a clinician of team B) every page naming one of
team A's records answers 404 or 403, no answer holds team A's patients, and nothing in the
clinical tables changes, whatever is POSTed. For team A the same pages answer 200 and nothing
answers 5xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import URLPattern, URLResolver

from alerts.models import (
    CoordinatorAlert,
    DeliveryAttempt,
    InboundMessage,
    Reminder,
    StatusReport,
)
from api.models import ReadAccess
from surveillance.models import (
    ClinicVisit,
    ImagingStudy,
    Injection,
    LabResult,
    ScheduledItem,
    SurveillancePlan,
    SymptomCheck,
)
from tests.admin.conftest import logged_in
from treatments.admin import TeamScopedAdmin
from treatments.models import CareTeam, Course, CourseEvent, Diagnosis, Patient, Surgery

pytestmark = [pytest.mark.django_db]

PROJECT_APPS = ("treatments", "surveillance", "alerts", "api", "coordinator")
# Names and MRNs of team A's patients (tests.admin.support): none may reach team B.
TEAM_A_MARKERS = (
    "GapA",
    "LateA",
    "SoonA",
    "RecA",
    "ProgA",
    "SsaA",
    "A-GAP",
    "A-LATE",
    "A-SOON",
    "A-REC",
    "A-PROG",
    "A-SSA",
)
# Ends the session: walked by no one (the client would be logged out mid-walk).
SKIPPED_SITE_VIEWS = {"logout"}


def team_a_rows(team: CareTeam) -> dict[type[models.Model], models.QuerySet]:
    """Team A's rows of every project model, found through their own foreign keys."""
    course = {"course__care_team": team}
    return {
        CareTeam: CareTeam.objects.filter(pk=team.pk),
        Patient: Patient.objects.filter(care_team=team),
        Diagnosis: Diagnosis.objects.filter(patient__care_team=team),
        Surgery: Surgery.objects.filter(patient__care_team=team),
        Course: Course.objects.filter(care_team=team),
        CourseEvent: CourseEvent.objects.filter(**course),
        SurveillancePlan: SurveillancePlan.objects.filter(**course),
        ImagingStudy: ImagingStudy.objects.filter(**course),
        LabResult: LabResult.objects.filter(**course),
        SymptomCheck: SymptomCheck.objects.filter(**course),
        ClinicVisit: ClinicVisit.objects.filter(**course),
        Injection: Injection.objects.filter(**course),
        ScheduledItem: ScheduledItem.objects.filter(**course),
        Reminder: Reminder.objects.filter(**course),
        DeliveryAttempt: DeliveryAttempt.objects.filter(reminder__course__care_team=team),
        CoordinatorAlert: CoordinatorAlert.objects.filter(**course),
        # Replies from a number only team A's patients hold; reports on team A's messages.
        InboundMessage: InboundMessage.objects.filter(
            from_number__in=Patient.objects.filter(care_team=team).values("phone")
        ).exclude(from_number__in=Patient.objects.exclude(care_team=team).values("phone")),
        StatusReport: StatusReport.objects.filter(
            provider_message_id__in=Reminder.objects.filter(**course)
            .exclude(provider_message_id="")
            .values("provider_message_id")
        ),
    }


def holds_team_data(model: type[models.Model] | None) -> bool:
    """False for rows about the system, of no team (heartbeats: their admin says
    holds_team_data = False): every team's staff read them, so no leak."""
    model_admin = admin.site._registry.get(model) if model is not None else None
    return getattr(model_admin, "holds_team_data", True)


@dataclass(frozen=True)
class Target:
    """One concrete admin URL: which view, and whether it names one of team A's records."""

    url: str
    view: str  # "changelist", "change", "history", "history_form", ... or the site view's name
    model: type[models.Model] | None
    names_record: bool
    action: str | None = None  # the action a POST asks for (a changelist's, the worklist's)


def _fill(route: str, values: dict[str, str]) -> str:
    """A URL from a path() route or a re_path() regex, its parameters filled in order."""
    if route.startswith("^"):
        groups = iter([values["object_id"], values.get("version_id", "0")])
        return re.sub(r"\([^)]*\)", lambda _: next(groups), route.strip("^$"))
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), route)


def _view_name(pattern: URLPattern) -> str:
    name = pattern.name or ""
    return name.split("_", 2)[-1] if name else pattern.pattern.describe()


def admin_targets(team_a: CareTeam, users: list[Any]) -> list[Target]:
    """Every URL of every registered ModelAdmin and of the site, aimed at team A's records."""
    rows = team_a_rows(team_a)
    targets: list[Target] = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if model in rows:
            obj = rows[model].order_by("pk").first()
            assert obj is not None, f"the scenario holds no {opts.label} of team A"
            pk = str(obj.pk)
            tracked = hasattr(model, "history")
            version = str(obj.history.latest("history_date").history_id) if tracked else "1"
        elif model is apps.get_model("auth", "User"):
            pk, version = str(users[0].pk), "1"
        elif not holds_team_data(model):
            obj = model._default_manager.order_by("pk").first()
            assert obj is not None, f"the scenario holds no {opts.label}"
            pk, version = str(obj.pk), "1"
        else:
            pk, version = "1", "1"
        values = {
            "object_id": pk,
            "version_id": version,
            "id": pk,
            "event_type": "symptoms_reported",
        }
        prefix = f"/admin/{opts.app_label}/{opts.model_name}/"
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern):
                continue
            route = str(pattern.pattern)
            if pattern.name and pattern.name.endswith("_changelist"):
                # Each bulk action of the list, on team A's rows.
                for action in (*(model_admin.actions or ()), "delete_selected"):
                    name = action if isinstance(action, str) else action.__name__
                    targets.append(Target(prefix, "changelist", model, False, name))
            targets.append(
                Target(
                    url=prefix + _fill(route, values),
                    view=_view_name(pattern),
                    model=model,
                    names_record="object_id" in route or route.startswith("^"),
                )
            )
    patient = rows[Patient].order_by("pk").first()
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLResolver) or not pattern.name:
            continue  # the model admins' includes (walked above) and the final catch-all
        if pattern.name in SKIPPED_SITE_VIEWS:
            continue
        if pattern.name == "index":
            # The worklist's bulk actions, on team A's alerts and reminders.
            for action in ("acknowledge_alerts", "resend_reminders"):
                targets.append(Target("/admin/", "index", None, False, action))
        if pattern.name == "app_list":
            for app_label in PROJECT_APPS[:3]:
                targets.append(Target(f"/admin/{app_label}/", "app_list", None, False))
            continue
        if pattern.name == "view_on_site":
            ct = ContentType.objects.get_for_model(Patient)
            targets.append(Target(f"/admin/r/{ct.pk}/{patient.pk}/", "view_on_site", Patient, True))
            continue
        if pattern.name == "autocomplete":
            for model in rows:
                for fk in model._meta.get_fields():
                    if fk.many_to_one and fk.concrete:
                        query = (
                            f"?app_label={model._meta.app_label}&model_name="
                            f"{model._meta.model_name}&field_name={fk.name}&term=A"
                        )
                        targets.append(
                            Target("/admin/autocomplete/" + query, "autocomplete", model, False)
                        )
            continue
        targets.append(
            Target("/admin/" + _fill(str(pattern.pattern), {}), pattern.name, None, False)
        )
    return targets


def probe_body(team_a: CareTeam) -> dict[str, Any]:
    """A POST that would change team A's records if any view took it: ids, actions, reasons."""
    rows = team_a_rows(team_a)
    course = rows[Course].first()
    return {
        "course": course.pk,
        "patient": rows[Patient].first().pk,
        "care_team": team_a.pk,
        "reason": "probe",
        "risk_group": "high",
        "margin": "R1",
        "family_name": "Changed",
        "action": "acknowledge",
        "selected": list(rows[CoordinatorAlert].values_list("pk", flat=True)),
        "post": "yes",  # the confirmation of delete_selected
        "index": "0",
        "_save": "Save",
    }


def fingerprint() -> dict[str, list[tuple]]:
    """Every row of the clinical apps and their history tables, to compare before and after."""
    state: dict[str, list[tuple]] = {}
    for app_label in PROJECT_APPS[:3]:
        for model in apps.get_app_config(app_label).get_models():
            state[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return state


@dataclass
class Tally:
    tried: int = 0
    leaks: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def summary(self, who: str, urls: int, roles: int) -> str:
        return (
            f"{who}: {urls} admin URLs x {roles} roles x GET/POST = {self.tried} requests, "
            f"{len(self.leaks)} leaks, {len(self.server_errors)} 5xx"
        )


def test_another_teams_records_answer_404_on_every_admin_url_and_nothing_changes(
    morning, team_a, coordinator, coordinator2, clinician2
):
    targets = admin_targets(team_a, [coordinator])
    body = probe_body(team_a)
    rows = team_a_rows(team_a)
    team_a_patients = set(team_a_rows(team_a)[Patient].values_list("pk", flat=True))
    before = fingerprint()
    tally = Tally()
    for user in (coordinator2, clinician2):
        client = logged_in(user)
        for target in targets:
            for method in ("get", "post"):
                own = rows.get(target.model)
                data = {
                    **body,
                    "action": target.action or body["action"],
                    # Team A's rows of the listed model (an id of another model could be one
                    # of team B's own rows, which team B may act on).
                    "_selected_action": list(own.values_list("pk", flat=True)) if own else [],
                }
                if target.action == "resend_reminders":  # the worklist's ticks of reminders
                    data["selected"] = list(rows[Reminder].values_list("pk", flat=True))
                response = getattr(client, method)(target.url, data if method == "post" else None)
                tally.tried += 1
                where = f"{user.username} {method.upper()} {target.url} -> {response.status_code}"
                if response.status_code >= 500:
                    tally.server_errors.append(where)
                project_record = (
                    target.names_record
                    and target.model is not None
                    and (target.model._meta.app_label in PROJECT_APPS)
                    and holds_team_data(target.model)
                )
                if project_record and response.status_code != 404:
                    tally.leaks.append(where + " (expected 404)")
                elif (
                    target.names_record
                    and holds_team_data(target.model)
                    and response.status_code not in (302, 403, 404)
                ):
                    # Other apps' admins (users, tokens, beat, axes, devices): refused, or
                    # Django's "does not exist" redirect, the same for any id.
                    tally.leaks.append(where + " (expected 302, 403 or 404)")
                content = response.content.decode(errors="replace")
                shown = [marker for marker in TEAM_A_MARKERS if marker in content]
                if shown:
                    tally.leaks.append(f"{where} shows {shown}")
    print("\n" + tally.summary("other team", len(targets), 2))
    assert not tally.leaks and not tally.server_errors, (
        tally.summary("other team", len(targets), 2)
        + "\n"
        + "\n".join(tally.leaks + tally.server_errors)
    )
    assert fingerprint() == before, "a request of the other team changed team A's records"
    assert (
        not ReadAccess.objects.filter(patient__in=team_a_patients)
        .exclude(actor__in=[coordinator])
        .exists()
    ), "the other team's requests logged reads of team A's patients"


# The pages of one record that a member of its team may read.
READABLE_VIEWS = {"changelist", "change", "history", "simple_history"}


def test_the_owning_team_reads_every_page_of_its_records_and_nothing_answers_5xx(
    morning, team_a, coordinator, clinician
):
    targets = admin_targets(team_a, [coordinator])
    tally = Tally()
    refused: list[str] = []
    for user in (coordinator, clinician):
        client = logged_in(user)
        for target in targets:
            for method in ("get", "post"):
                data = {} if method == "post" else None
                response = getattr(client, method)(target.url, data)
                tally.tried += 1
                where = f"{user.username} {method.upper()} {target.url} -> {response.status_code}"
                if response.status_code >= 500:
                    tally.server_errors.append(where)
                scoped = target.model is not None and target.model._meta.app_label in PROJECT_APPS
                readable = method == "get" and scoped and target.view in READABLE_VIEWS
                if readable and response.status_code != 200:
                    refused.append(where)
    print("\n" + tally.summary("owning team", len(targets), 2))
    assert not tally.server_errors, "\n".join(tally.server_errors)
    assert not refused, "pages of the team's own records refused:\n" + "\n".join(refused)


def test_every_admin_class_of_the_project_derives_from_the_one_scoped_admin():
    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS and not isinstance(model_admin, TeamScopedAdmin)
    ]
    assert unscoped == []
