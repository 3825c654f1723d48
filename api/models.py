"""Records of the API door: who read which patient, replayable POSTs, token generations.

The tables keep the names they were created with (``netcare_*``): the models moved here from
the configuration package without their data moving (api/migrations/0001_initial.py).
"""

from django.conf import settings
from django.db import models


class ReadAccess(models.Model):
    """One read of one patient's data (kept apart from the change history)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
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

    def __str__(self) -> str:
        return f"{self.actor_id} read patient {self.patient_id} at {self.at:%Y-%m-%d %H:%M}"


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
