"""The entries section in headless Chromium against `parta demo`: security sees who is inside,
the day's log and its refusals, and issues a card to a pupil of a class from the class list.
With PARTA_SCREENSHOTS=1 the pages are saved as docs/screenshots/web-entries-*.png."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.support import REDRAWN, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e


def test_security_reads_the_log_and_issues_a_card(demo: DemoServer, browser: WebDriver) -> None:
    sign_in(browser, demo, "security", "/admin/web/entries")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Кто сейчас в здании"
    assert "Обучающихся в здании:" in browser.find_element(By.CSS_SELECTOR, "p.counts").text
    screenshot(browser, "entries-inside")

    browser.find_element(By.LINK_TEXT, "Журнал проходов").click()
    WebDriverWait(browser, 30).until(lambda d: "/entries/log" in d.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Журнал проходов за день"
    screenshot(browser, "entries-log")

    browser.find_element(By.LINK_TEXT, "Карты").click()
    WebDriverWait(browser, 30).until(lambda d: "/entries/cards" in d.current_url)
    browser.find_element(By.CSS_SELECTOR, "p.classes a").click()
    WebDriverWait(browser, 30).until(lambda d: "class_id=" in d.current_url)
    row = browser.find_elements(By.CSS_SELECTOR, "#cards tbody tr")[-1]
    pupil = row.get_attribute("data-pupil")
    name = row.find_element(By.TAG_NAME, "td").text
    form = row.find_element(By.CSS_SELECTOR, "form.issue")
    form.find_element(By.NAME, "raw_value").send_keys("12A4F07B")
    Select(form.find_element(By.NAME, "card_format")).select_by_value("mifare_uid")
    form.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: d.find_elements(By.ID, "done") or d.find_elements(By.ID, "refused")
    )
    assert browser.find_element(By.ID, "done").text == "Карта выдана."
    issued = browser.find_element(By.CSS_SELECTOR, f"#cards tr[data-pupil='{pupil}']")
    assert "12A4F07B" in issued.text and name in issued.text
    screenshot(browser, "entries-cards")
