"""Provider reports that no reminder ever matched are pruned after ALERTS_UNMATCHED_REPORT_DAYS;
applied reports, and unmatched ones still within their days, stay."""

import datetime as dt

import pytest

from alerts import services, tasks
from alerts.models import Reminder, StatusReport
from tests.alerts.conftest import NOON, TODAY, plan_items

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def report(sid: str, *, received: dt.datetime, status: str = "delivered") -> None:
    assert services.status_callback(message_sid=sid, status=status, now=received)


@pytest.fixture
def sent_reminder(course, recording) -> Reminder:
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON - 40 * DAY)
    services.dispatch_batch(now=NOON - 40 * DAY)
    return Reminder.objects.filter(channel="sms", status="sent").get()


# (days the setting keeps, age of the unmatched report in days) -> pruned?
CASES = [
    pytest.param(30, 31, True, id="a month and a day old with 30 days kept"),
    pytest.param(30, 29, False, id="29 days old with 30 days kept"),
    pytest.param(7, 8, True, id="8 days old with 7 days kept"),
    pytest.param(7, 6, False, id="6 days old with 7 days kept"),
    pytest.param(0, 2, True, id="a setting of 0 still keeps a day"),
    pytest.param(0, 0.5, False, id="half a day old with a setting of 0"),
]


@pytest.mark.parametrize(("days", "age", "pruned"), CASES)
def test_an_unmatched_report_is_pruned_once_older_than_the_days_kept(settings, days, age, pruned):
    settings.ALERTS_UNMATCHED_REPORT_DAYS = days
    report("SM-nobody", received=NOON - dt.timedelta(days=age))

    deleted = services.prune_unmatched_reports(now=NOON)

    assert deleted == int(pruned)
    assert StatusReport.objects.filter(provider_message_id="SM-nobody").exists() is not pruned


def test_an_applied_report_is_kept_however_old(settings, sent_reminder):
    settings.ALERTS_UNMATCHED_REPORT_DAYS = 7
    report(sent_reminder.provider_message_id, received=NOON - 39 * DAY)
    report("SM-nobody", received=NOON - 39 * DAY)

    deleted = services.prune_unmatched_reports(now=NOON)

    assert deleted == 1
    assert list(StatusReport.objects.values_list("provider_message_id", flat=True)) == [
        sent_reminder.provider_message_id
    ]
    sent_reminder.refresh_from_db()
    assert sent_reminder.status == "delivered"


def test_pruning_goes_through_every_chunk_and_a_second_run_deletes_nothing(settings):
    settings.ALERTS_UNMATCHED_REPORT_DAYS = 30
    for n in range(7):
        report(f"SM-old-{n}", received=NOON - 31 * DAY)
    report("SM-recent", received=NOON - DAY)

    first = services.prune_unmatched_reports(now=NOON, chunk_size=3)
    second = services.prune_unmatched_reports(now=NOON, chunk_size=3)

    assert (first, second) == (7, 0)
    assert list(StatusReport.objects.values_list("provider_message_id", flat=True)) == ["SM-recent"]


def test_the_periodic_task_prunes_with_the_real_clock(settings, eager_celery):
    settings.ALERTS_UNMATCHED_REPORT_DAYS = 30
    report("SM-ancient", received=NOON - 400 * DAY)
    report("SM-today", received=dt.datetime.now(dt.UTC))

    assert tasks.prune_unmatched_reports.delay().get() == 1
    assert list(StatusReport.objects.values_list("provider_message_id", flat=True)) == ["SM-today"]
