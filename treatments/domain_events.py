"""The events `treatments` publishes on the one bus (core/events.py): how it tells
`surveillance` and `alerts` what happened without importing them. They subscribe in their
AppConfig.ready(); the bus's docstring says when each kind of subscriber runs.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class CourseRegistered:
    course_id: int
    actor_id: int


@dataclass(frozen=True)
class CourseEventRecorded:
    course_id: int
    event_id: int
    type: str
    from_state: str
    to_state: str
    occurred_on: date
    actor_id: int
    data: Mapping[str, Any] = field(default_factory=dict)
    override: bool = False
    overridden_guards: tuple[Mapping[str, Any], ...] = ()


DomainEvent = CourseRegistered | CourseEventRecorded
# For core.events.subscribe: every event treatments publishes.
DOMAIN_EVENTS = (CourseRegistered, CourseEventRecorded)
