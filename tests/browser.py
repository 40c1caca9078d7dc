"""Real headless Chromium for the browser tests (Selenium + Debian's chromium and chromium-driver, installed
with apt when missing and the tests run as root; elsewhere a skip naming it, a failure under CI=true)."""
from __future__ import annotations

import shutil

from services import apt_install, unavailable

BROWSER_PACKAGES = ["chromium", "chromium-driver"]
WINDOW = "--window-size=1400,1000"


def headless_chromium(*extra_args: str):
    """A Selenium Chrome driver on headless Chromium; the caller quits it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install 'stylealign[test]')")
    apt_install(BROWSER_PACKAGES, ["chromium", "chromedriver"])
    options = Options()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", WINDOW, *extra_args):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
