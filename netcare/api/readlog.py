"""The read-access log: one row per patient per request that returned the patient's data."""

from collections.abc import Iterable

from django.db import DatabaseError
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from netcare.models import ReadAccess


class ReadLogUnavailable(APIException):
    status_code = 503
    default_code = "read_log_unavailable"
    default_detail = "The read-access log cannot be written; no patient data is returned."


def log_reads(request: Request, patient_ids: Iterable[int]) -> None:
    """Record the reads, or fail closed: a read that cannot be logged is not served."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    try:
        ReadAccess.objects.bulk_create(
            [
                ReadAccess(
                    actor_id=request.user.pk,
                    patient_id=pid,
                    endpoint=request.path[:200],
                    method=request.method,
                )
                for pid in ids
            ]
        )
    except DatabaseError as exc:
        raise ReadLogUnavailable() from exc
