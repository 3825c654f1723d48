"""The Content-Security-Policy in a real browser: the API docs and the admin run under it.

Headless Chromium (as in tests/e2e) loads each page from the live server and reports every
console message; a policy violation is logged there, so none may appear, and Swagger UI must
have drawn the API's title (its scripts ran).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.test_worklist_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    WAIT_SECONDS,
    _unavailable,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def logging_browser() -> Iterator[Any]:
    """Chromium that keeps its console log, where CSP violations are reported."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(f"Debian's chromium and chromium-driver are missing ({CHROMIUM})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def violations(driver: Any) -> list[str]:
    return [
        entry["message"][:300]
        for entry in driver.get_log("browser")
        # A refused script or style, or a script error; the admin has no favicon (a 404).
        if "Content Security Policy" in entry["message"]
        or (entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"])
    ]


def test_swagger_ui_and_the_admin_run_without_a_policy_violation(
    logging_browser, live_server, coordinator, course
):
    browser = logging_browser
    browser.get(f"{live_server.url}/api/docs/")
    title = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title")
    )
    assert "NetCare API" in title[0].text
    assert violations(browser) == []

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(coordinator.username)
    browser.find_element(By.NAME, "password").send_keys("correct-horse-battery-staple")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").submit()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda b: "/admin/" in b.current_url)
    for page in ("/admin/", f"/admin/treatments/course/{course.pk}/change/"):
        browser.get(f"{live_server.url}{page}")
        assert browser.find_elements(By.ID, "content"), page
        assert violations(browser) == [], page
