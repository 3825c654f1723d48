"""Records of the API door: who read which patient, replayable POSTs, token generations.

The tables keep the names they were created with (``netcare_*``): the models moved here from
the configuration package without their data moving (api/migrations/0001_initial.py).
"""

from django.conf import settings
from django.db import models


class ReadAccess(models.Model):
    """One read of one patient's data (kept apart from the change history).

    The reader is a user (``actor``) or, for a subscribed calendar, which logs in as no one,
    the calendar feed whose secret address was read (``calendar_feed``): exactly one of them.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    calendar_feed = models.ForeignKey(
        "api.CalendarFeed", on_delete=models.PROTECT, related_name="reads", null=True, blank=True
    )
    patient = models.ForeignKey(
        "treatments.Patient", on_delete=models.PROTECT, related_name="read_accesses"
    )
    endpoint = models.CharField(max_length=200)
    method = models.CharField(max_length=10, default="GET")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "netcare_readaccess"
        verbose_name_plural = "read accesses"
        indexes = [models.Index(fields=["patient", "at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor__isnull=False, calendar_feed__isnull=True)
                | models.Q(actor__isnull=True, calendar_feed__isnull=False),
                name="readaccess_one_reader",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reader} read patient {self.patient_id} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def reader(self) -> str:
        """Who read: the user's id, or ``calendar feed <id>`` for a subscribed calendar."""
        if self.calendar_feed_id is not None:
            return f"calendar feed {self.calendar_feed_id}"
        return str(self.actor_id)


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "netcare_idempotencyrecord"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class TokenVersion(models.Model):
    """The generation of one user's API tokens: a token naming an older one is refused.

    Every JWT carries the number current when it was issued (claim ``tv``). A password
    change, a deactivation or an explicit "log out everywhere" adds one, which revokes every
    access and refresh token issued before it at once (api/credentials.py). A user with
    no row is at generation 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="token_version",
    )
    version = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=40, blank=True)

    class Meta:
        db_table = "netcare_tokenversion"

    def __str__(self) -> str:
        return f"tokens of user {self.user_id}: generation {self.version}"


class CalendarFeed(models.Model):
    """A secret, revocable address of one patient's schedule as an iCalendar feed.

    Only the SHA-256 of the secret is kept (``token_hash``): the address is shown once, when
    it is issued, and a feed is found again by hashing the secret it is asked for. A patient
    has at most one live feed: issuing a new one revokes the one before (api/calendar/).
    """

    patient = models.ForeignKey(
        "treatments.Patient", on_delete=models.PROTECT, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_calendar_feed_per_patient",
            )
        ]

    def __str__(self) -> str:
        state = f"revoked {self.revoked_at:%Y-%m-%d}" if self.revoked_at else "live"
        return f"calendar feed {self.pk} of patient {self.patient_id} ({state})"
