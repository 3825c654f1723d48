from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import m2m_changed, post_save, pre_save


class ApiConfig(AppConfig):
    """The REST door: views, authentication, tokens, idempotency and the read log."""

    name = "api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from treatments.models import CareTeam

        from . import event_schema  # noqa: F401  (publishes each event type's payload)
        from .credentials import (
            after_groups_changed,
            after_team_members_changed,
            after_user_saved,
            before_user_saved,
        )

        # Any save that changes a password or deactivates a user revokes their API tokens.
        user = settings.AUTH_USER_MODEL
        pre_save.connect(before_user_saved, sender=user, dispatch_uid="api.credentials.pre")
        post_save.connect(after_user_saved, sender=user, dispatch_uid="api.credentials.post")
        # Tokens claim the user's role and teams (api/credentials.py): a change of either
        # revokes them, whichever side of the relation it is made from.
        m2m_changed.connect(
            after_groups_changed,
            sender=get_user_model().groups.through,
            dispatch_uid="api.credentials.groups",
        )
        m2m_changed.connect(
            after_team_members_changed,
            sender=CareTeam.members.through,
            dispatch_uid="api.credentials.teams",
        )
        # A deactivated patient's calendar feed is revoked, and so is a patient's whose last
        # open course closes (in the closing transaction).
        from core import events
        from treatments.domain_events import CourseEventRecorded

        from .calendar.services import on_course_event, on_user_saved

        post_save.connect(on_user_saved, sender=user, dispatch_uid="api.calendar.user")
        events.subscribe(CourseEventRecorded, on_course_event, in_transaction=True)
