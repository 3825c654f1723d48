"""The course page in a real browser at 1400 px: the long logs fit the page's width.

Headless Chromium against the live server (as tests/e2e/test_worklist_browser.py). A course
with a year of history (lines, events with their data, an audit trail) is built through the
services; the page's event log and audit trail must wrap instead of scrolling sideways. The
screenshot is written to test-artifacts/course-page.png.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests import factories
from tests.admin.course_history import build_year
from tests.e2e import test_worklist_browser as base
from tests.e2e.test_worklist_browser import _screenshot, _wait_for

# The worklist test's fixtures: headless Chromium, and fast password hashing (autouse).
browser = base.browser
_fast_password_hashing = base._fast_password_hashing

pytestmark = pytest.mark.django_db(transaction=True)

# How far an element's content reaches past its box, in CSS pixels.
OVERFLOW = "const e = arguments[0]; return e.scrollWidth - e.clientWidth;"


def test_the_event_log_and_the_audit_trail_fit_a_1400_pixel_window(
    browser, live_server, clinician, team_a, coordinator
):
    from selenium.webdriver.common.by import By

    course = build_year(clinician, team_a, today=timezone.localdate(), family_name="Moreau")
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    _wait_for(browser, "#id_username").send_keys("coordinator")
    browser.find_element(By.ID, "id_password").send_keys(factories.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait_for(browser, "#content")

    browser.get(f"{live_server.url}/admin/treatments/course/{course.pk}/change/")
    _wait_for(browser, "#audit-trail")
    assert browser.execute_script("return window.innerWidth") == 1400

    for panel in ("panel-events", "panel-audit", "panel-symptom-checks"):
        element = browser.find_element(By.ID, panel)
        assert browser.execute_script(OVERFLOW, element) <= 0, panel
    assert browser.execute_script(OVERFLOW, browser.find_element(By.TAG_NAME, "html")) <= 0
    rows = browser.find_elements(By.CSS_SELECTOR, "#event-log tbody tr")
    assert rows and all(row.is_displayed() for row in rows)
    assert not browser.find_elements(By.CSS_SELECTOR, "#content-main form")
    assert _screenshot(browser, "course-page.png").stat().st_size > 10_000
