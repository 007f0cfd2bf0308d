"""The meals section in headless Chromium against `parta demo`: the caterer opens the counter,
picks a class and marks today's lunches from the list and at the till (the list follows), and
reads the two-week menu. With
PARTA_SCREENSHOTS=1 the pages are saved as docs/screenshots/web-meals-*.png."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import REDRAWN, get, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e


def test_the_caterer_marks_lunches_from_a_class_list(demo: DemoServer, browser: WebDriver) -> None:
    sign_in(browser, demo, "caterer", "/admin/web/meals")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Раздача")
    # The class with the most lunches ordered today (the demo's families order ahead).
    best = None
    for link in [
        a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "p.classes a")
    ]:
        browser.get(link)
        rows = browser.find_elements(By.CSS_SELECTOR, "#counter tbody tr")
        buttons = browser.find_elements(By.CSS_SELECTOR, "#counter tbody form button")
        if buttons:
            best = link
            break
        assert rows, link
    if best is None:
        menu = get(demo, "parent", f"/api/v1/meals/pupils/{demo_child(demo)}/menu")
        assert not menu["is_school_day"], "a school day, yet no class has a lunch ordered today"
        pytest.skip(f"the demo school is closed today: {menu['day_off_reason']}")
    screenshot(browser, "meals-counter")
    row = browser.find_element(By.CSS_SELECTOR, "#counter tbody form").find_element(
        By.XPATH, "./ancestor::tr"
    )
    pupil = row.get_attribute("data-pupil")
    row.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: (
            "выдано в" in d.find_element(By.CSS_SELECTOR, f"#counter tr[data-pupil='{pupil}']").text
        )
    )
    assert "Отмечено выданными: 1." in browser.find_element(By.ID, "class-list").text
    # At the till by the pupil's number: the class list below is read again (its row and
    # heading), not left showing the «Выдать» button of someone already served.
    waiting = browser.find_elements(By.CSS_SELECTOR, "#counter tbody form")
    if waiting:
        other = waiting[0].find_element(By.XPATH, "./ancestor::tr").get_attribute("data-pupil")
        till = browser.find_element(By.CSS_SELECTOR, "form.till")
        till.find_element(By.NAME, "student_id").send_keys(str(other))
        till.find_element(By.TAG_NAME, "button").click()
        WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
            lambda d: (
                "выдано в"
                in d.find_element(By.CSS_SELECTOR, f"#counter tr[data-pupil='{other}']").text
            )
        )
        assert "Выдано: " in browser.find_element(By.ID, "counter-status").text

    browser.find_element(By.LINK_TEXT, "Меню").click()
    WebDriverWait(browser, 30).until(lambda d: "/meals/menu" in d.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "#sets tbody tr")
    screenshot(browser, "meals-menu")


def demo_child(demo: DemoServer) -> int:
    return int(get(demo, "parent", "/api/v1/family/children")[0]["student_id"])
