"""The API docs work offline: Swagger UI comes from the project's own static files.

Headless Chromium (as in tests/e2e) resolves no host but the live server's, so anything
fetched from a CDN would fail; Chrome's performance log lists every request the page made,
and each must go to the live server's origin. The operations must be listed (Swagger UI ran
and read the schema).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

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


@pytest.fixture
def offline_browser() -> Iterator[Any]:
    """Chromium that can reach this machine only and logs every network request it makes."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(f"Debian's chromium and chromium-driver are missing ({CHROMIUM})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # Every host name fails to resolve except the live server's address: no CDN is reachable.
    options.add_argument(
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"
    )
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: Any) -> list[str]:
    """The URL of every request the page sent (DevTools Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_api_docs_list_the_operations_with_every_request_to_the_server_itself(
    offline_browser, live_server
):
    browser = offline_browser
    browser.get(f"{live_server.url}/api/docs/")
    operations = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock .opblock-summary-path")
    )
    paths = {operation.text.replace("\u200b", "") for operation in operations}
    urls = requested_urls(browser)
    origin = urlsplit(live_server.url)
    elsewhere = [
        url
        for url in urls
        if not url.startswith("data:")
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
    ]

    assert {"/api/v1/courses/", "/api/v1/courses/{id}/events/", "/api/v1/auth/token/"} <= paths
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in urls), urls
    assert elsewhere == []
