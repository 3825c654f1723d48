"""The course charts in a real browser: drawn, legible, and within the page's CSP.

Headless Chromium against the live server (as tests/e2e/test_worklist_browser.py). A course
with a year of history is built through the services; the coordinator opens the worklist and
the course page. Screenshots are written to test-artifacts/ (course-charts-worklist.png,
course-charts-page.png, course-charts.png, course-markers.png, course-symptoms.png,
course-timeline.png). Every Content-Security-Policy violation the page reports is collected,
both from the ``securitypolicyviolation`` event (listened to before the page's own content
loads) and from the console, and there must be none.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from coordinator.charts import TUMOUR_MARKERS
from surveillance.models import ImagingStudy, LabResult, SymptomCheck
from tests import factories
from tests.admin.course_history import build_year
from tests.e2e import test_worklist_browser as base
from tests.e2e.test_worklist_browser import ARTIFACTS, _screenshot, _wait_for

# The worklist test's fixtures: headless Chromium, and fast password hashing (autouse).
browser = base.browser
_fast_password_hashing = base._fast_password_hashing

pytestmark = pytest.mark.django_db(transaction=True)

LISTEN_FOR_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def _violations(driver) -> list[str]:
    reported = driver.execute_script("return window.__cspViolations || [];")
    console = [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    return [*reported, *console]


def test_the_course_page_draws_the_charts_and_timeline_with_no_csp_violation(
    browser, live_server, clinician, team_a, coordinator
):
    from selenium.webdriver.common.by import By

    course = build_year(clinician, team_a, today=timezone.localdate(), family_name="Moreau")
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTEN_FOR_CSP})

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    _wait_for(browser, "#id_username").send_keys("coordinator")
    browser.find_element(By.ID, "id_password").send_keys(factories.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    _wait_for(browser, "#content")
    assert "Moreau" in browser.page_source
    _screenshot(browser, "course-charts-worklist.png")
    worklist_violations = _violations(browser)

    browser.get(f"{live_server.url}/admin/treatments/course/{course.pk}/change/")
    panel = _wait_for(browser, "#panel-charts")
    figures = {
        name: browser.find_element(By.ID, f"chart-{name}")
        for name in ("markers", "symptoms", "timeline")
    }
    for name, svg in figures.items():
        assert svg.is_displayed(), name
        assert svg.size["width"] > 600 and svg.size["height"] > 150, (name, svg.size)
    markers = browser.find_elements(By.CSS_SELECTOR, 'g[id^="chart-markers-point-lab-"]')
    assert (
        len(markers) == LabResult.objects.filter(course=course, analyte__in=TUMOUR_MARKERS).count()
    )
    assert all(point.is_displayed() for point in markers)
    weights = browser.find_elements(By.CSS_SELECTOR, 'g[id$="-weight_kg"]')
    assert len(weights) == SymptomCheck.objects.filter(course=course).count()
    imaging = browser.find_elements(By.CSS_SELECTOR, 'g[id^="chart-timeline-point-imaging-"]')
    assert len(imaging) == ImagingStudy.objects.filter(course=course).count()
    # Text stays text: the axes' dates and units can be read (and found) on the page.
    assert "ng/mL" in figures["markers"].text
    assert "kg" in figures["symptoms"].text
    assert "Line 1 · lanreotide" in figures["timeline"].text

    _screenshot(browser, "course-charts-page.png")
    ARTIFACTS.mkdir(exist_ok=True)
    assert panel.screenshot(str(ARTIFACTS / "course-charts.png"))
    for name in ("markers", "symptoms", "timeline"):
        figure = browser.find_element(By.ID, f"figure-{name}")
        browser.execute_script("arguments[0].scrollIntoView();", figure)
        assert figure.screenshot(str(ARTIFACTS / f"course-{name}.png"))
    assert (ARTIFACTS / "course-timeline.png").stat().st_size > 10_000

    assert worklist_violations == []
    assert _violations(browser) == []
    # The listener does hear a violation: an inline script without the nonce is refused.
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.ran === undefined;")
    assert any("script-src" in violation for violation in _violations(browser))
