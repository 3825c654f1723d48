"""Cross-cutting records of the API: who read which patient, and replayable POSTs."""

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
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
