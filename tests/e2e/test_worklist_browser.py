"""A coordinator's morning in a real browser: log in, read the worklist, record an event.

Headless Chromium from Debian, driven by Selenium against pytest-django's live server.
scripts/test installs chromium and chromium-driver when it runs as root under CI=true (or
with NETCARE_E2E=1). Elsewhere the test skips with the reason; under CI=true it fails instead,
so a missing browser cannot pass unnoticed. The worklist's screenshot is written to
test-artifacts/worklist.png.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from alerts.models import CoordinatorAlert
from tests import factories
from tests.admin.support import Morning, build_morning, run_beat
from treatments.models import Course

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CI = os.environ.get("CI") == "true"
# The flags Debian's Chromium needs as root in a container, without reaching the network.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
WAIT_SECONDS = 15


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true needs the end-to-end browser: {reason}", pytrace=False)
    pytest.skip(f"{reason} (NETCARE_E2E=1 ./scripts/test installs it as root)")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Before the personas are created: a password is checked with the hasher that made it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(f"Debian's chromium and chromium-driver are missing ({CHROMIUM})")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def morning(clinician, team_a, coordinator, coordinator2, team_b, settings) -> Morning:
    """Today's worklist, on the real clock (the browser keeps its own)."""
    settings.NETCARE_SMS_BACKEND = "alerts.testing.RecordingSMSBackend"
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.ALERTS_RECORDING_FAIL_PERMANENT_TO = ("soon-a@example.org", "soon-b@example.org")
    today = timezone.localdate()
    built = build_morning(
        today=today, clinician=clinician, team_a=team_a, coordinator2=coordinator2, team_b=team_b
    )
    # Noon: outside every patient's quiet hours, whenever the suite runs.
    run_beat(built, today=today, now=dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC))
    return built


def _wait_for(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def _screenshot(driver: Any, name: str) -> Path:
    """The whole page: the window is stretched to the document's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(1000, min(int(height) + 40, 6000)))
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    assert driver.save_screenshot(str(target)), f"could not write {target}"
    return target


# transaction=True: the live server runs in another thread and needs committed rows. The
# staff groups' permissions come back after each flush (coordinator.roles_setup, post_migrate).
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_logs_in_reads_the_worklist_and_records_an_event(
    browser, live_server, morning, coordinator
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    _wait_for(browser, "#id_username").send_keys("coordinator")
    browser.find_element(By.ID, "id_password").send_keys(factories.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    _wait_for(browser, "#overdue-imaging")
    gap_row = browser.find_element(
        By.CSS_SELECTOR, f'#overdue-imaging tr[data-course="{morning.gap.pk}"]'
    )
    assert "critical" in gap_row.text.lower()
    decisions = browser.find_element(By.ID, "decisions-pending").text
    assert morning.recurrence.patient.family_name in decisions
    assert morning.progression.patient.family_name in decisions
    page = browser.page_source
    assert all(course.patient.mrn not in page for course in morning.theirs)
    shot = _screenshot(browser, "worklist.png")
    assert shot.stat().st_size > 10_000

    browser.find_element(
        By.CSS_SELECTOR, f'#due-this-week tr[data-course="{morning.soon.pk}"] a'
    ).click()
    _wait_for(browser, 'a.button[data-event="recurrence_detected"]').click()
    Select(_wait_for(browser, "select[name=data_site]")).select_by_value("liver")
    browser.find_element(By.NAME, "data_resectable").click()
    browser.find_element(By.NAME, "reason").send_keys("MRI: two liver lesions, resectable")
    browser.find_element(By.NAME, "_record").click()

    _wait_for(browser, ".messagelist .success")
    assert browser.find_element(By.ID, "current-state").text == "recurrence"
    _screenshot(browser, "course.png")
    course = Course.objects.get(pk=morning.soon.pk)
    event = course.events.get()
    assert (course.state, event.type, event.actor, event.data) == (
        "recurrence",
        "recurrence_detected",
        coordinator,
        {"site": "liver", "resectable": True},
    )
    # The alerts app heard it on commit: the decision is now pending on the worklist.
    assert CoordinatorAlert.objects.filter(course=course, kind="decision_pending").exists()
