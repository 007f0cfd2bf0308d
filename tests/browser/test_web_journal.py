"""The journal's further pages and the reports in headless Chromium against `parta demo`: the
demo teacher opens a pupil's card from the grid, then the class's final marks for the period and
confirms one proposed mark; the coordinator opens the reports with their charts. With
PARTA_SCREENSHOTS=1 the pages are saved as docs/screenshots/web-journal-*.png and
web-reports-*.png.

The demo is shared by the worker's browser tests: confirming a proposed period mark changes
nothing another test reads, and a second run confirms it again as a change of its own."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import REDRAWN, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e

JOURNAL = "/admin/web/journal"


def test_a_teacher_reads_a_pupils_card_and_confirms_a_final_mark(
    demo: DemoServer, browser: WebDriver
) -> None:
    sign_in(browser, demo, "teacher", JOURNAL)
    browser.find_element(By.CSS_SELECTOR, "ul.choices li a").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "journal"))
    grid_url = browser.current_url

    # The first pupil's card, from the grid: every subject, averages, attendance.
    pupil = browser.find_element(By.CSS_SELECTOR, "#journal tbody th.name a")
    name = pupil.text
    pupil.click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "pupil-card"))
    assert f"{name}, " in browser.find_element(By.TAG_NAME, "h1").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#pupil-card tbody tr")
    assert len(rows) > 1  # the demo's pupils have marks in several subjects
    assert "Уроков с отметкой посещаемости" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "journal-card")

    # Final marks of the class for the current period: confirm the first proposed one.
    browser.get(grid_url)
    browser.find_element(By.LINK_TEXT, "Итоговые отметки").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "final-marks"))
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#final-marks tbody tr")
        if r.find_elements(By.NAME, "value")
        and r.find_element(By.NAME, "value").get_attribute("value")
    )
    row_id = row.get_attribute("id")
    value = row.find_element(By.NAME, "value").get_attribute("value")
    row.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: "Сохранено." in d.find_element(By.ID, "journal-status").text
    )
    saved = browser.find_element(By.ID, row_id)
    assert saved.find_element(By.CSS_SELECTOR, "td.final-value").text == value
    assert saved.find_element(By.TAG_NAME, "button").text == "Изменить"
    screenshot(browser, "journal-final")


def test_the_coordinator_reads_reports_with_charts(demo: DemoServer, browser: WebDriver) -> None:
    sign_in(browser, demo, "coordinator", "/admin/web/reports/")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Качество знаний").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg"))
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart rect.bar")
    assert browser.find_element(By.PARTIAL_LINK_TEXT, "Скачать XLSX")
    screenshot(browser, "reports-quality")
    browser.get(f"{demo.base}/admin/web/reports/")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Успеваемость по классам").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "polyline.line"))
    screenshot(browser, "reports-performance")
