"""The one audit writer: who changed a tracked record, and why.

django-simple-history writes a history row on every ``save()`` of a tracked model; the acting
user and the reason come from two attributes set on the instance before that save. Every
service sets them here, so every door (API, admin, tasks, imports) leaves the same trail.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def with_history(instance: T, *, actor: Any, reason: str) -> T:
    """Attach ``actor`` (a user, or None for the system) and ``reason`` to ``instance`` for the
    history row its next ``save()`` writes; returns the instance.

    The reason is kept whole, only its outer blanks trimmed (the history column is unbounded text): a clinician's override
    reason or a correction note must never be cut.
    """
    instance._history_user = actor  # type: ignore[attr-defined]
    instance._change_reason = (reason or "").strip()  # type: ignore[attr-defined]
    return instance
