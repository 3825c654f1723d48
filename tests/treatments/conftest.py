"""Fixtures of the clinical-core acceptance tests."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from core import events
from tests.treatments.support import TODAY
from treatments import domain_events


@pytest.fixture
def today() -> Iterator[dt.date]:
    """Pin the clock (ticking, so history rows keep their order) to TODAY at noon UTC."""
    noon = dt.datetime.combine(TODAY, dt.time(12, 0), tzinfo=dt.UTC)
    with time_machine.travel(noon, tick=True):
        yield TODAY


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Each persona is created with a password; the production hasher's deliberate slowness
    # would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def subscribe() -> Iterator[Callable[..., Any]]:
    """Subscribe domain-event handlers for one test; they are removed afterwards."""
    added = []

    def add(handler, **options: Any):
        events.subscribe(domain_events.DOMAIN_EVENTS, handler, **options)
        added.append(handler)
        return handler

    yield add
    for handler in added:
        events.unsubscribe(handler)
