"""What the staff web's browser tests share: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) at an office screen's size, signing in through the form,
screenshots for the docs (PARTA_SCREENSHOTS=1 saves docs/screenshots/web-*.png), and reads of
the demo's API to find what a test works on. The demo itself is one per test worker
(`tests/browser/conftest.py`): every test leaves it usable for the next."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.demo_server import DEMO_PASSWORD, DemoServer

# htmx swaps the status line and the grid's parts as answers come: an element found a moment
# ago may be replaced while a wait reads it, so a wait reads again instead of failing.
REDRAWN = (StaleElementReferenceException,)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium(width: int = 1366, height: int = 768) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=ru-RU",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def screenshot(driver: WebDriver, name: str) -> None:
    if os.environ.get("PARTA_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / f"web-{name}.png"))


def get(demo: DemoServer, login: str, path: str, **params: Any) -> Any:
    with demo.client(login) as client:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def sign_in(driver: WebDriver, demo: DemoServer, login: str, path: str) -> None:
    driver.get(f"{demo.base}{path}")
    assert "/admin/tasks/login" in driver.current_url
    driver.find_element(By.NAME, "identifier").send_keys(login)
    driver.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    WebDriverWait(driver, 30, ignored_exceptions=REDRAWN).until(
        lambda d: "/admin/tasks/login" not in d.current_url
    )
