"""A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven by selenium, that
records every request a page makes and every console message it logs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver)")


def start(profile: Path, *, offline: bool = False) -> Any:
    """A headless Chromium with a new empty profile; `offline` refuses every connection."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if offline:
        options.add_argument("--proxy-server=127.0.0.1:9")
        options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


def network_requests(driver: Any) -> Iterator[str]:
    """Every network URL (http, https, ws, wss) the pages loaded so far requested, from the
    DevTools log (which it empties): the browser's own chrome:// pages aside."""
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.split(":", 1)[0] in ("http", "https", "ws", "wss"):
                yield url


def console_errors(driver: Any) -> list[str]:
    """The console's error messages so far (it empties the log)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
