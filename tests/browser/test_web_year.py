"""The year and timetable section and the messages page in headless Chromium against
`parta demo`: the coordinator puts a lesson where the class (or its teacher) already has one and
sees the conflict, with its Russian reason, in the cell where she put it; nothing is written.
The year's periods and holidays, the curriculum with the teachers' loads and the messages page
open with the demo's content; a teacher reads the timetable without its forms. With
PARTA_SCREENSHOTS=1 the pages are saved as docs/screenshots/web-year-*.png and
web-messages.png."""

from __future__ import annotations

from datetime import date

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.support import REDRAWN, get, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e


def test_a_coordinator_sees_the_conflict_where_she_made_it(
    demo: DemoServer, browser: WebDriver
) -> None:
    sign_in(browser, demo, "coordinator", "/admin/web/timetable")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Расписание: ")
    school = browser.find_element(By.CSS_SELECTOR, "#board-pick input[name=school]")
    school_id = school.get_attribute("value")
    today = date.today().isoformat()
    before = get(demo, "coordinator", f"/api/v1/schools/{school_id}/timetable", on=today)["total"]
    taken = browser.find_elements(By.CSS_SELECTOR, "td.slot .entry")
    assert taken, "the demo's class has no timetable on today's date"
    screenshot(browser, "year-timetable")

    # The class's lesson in some slot: the same lesson again, same teacher, same slot.
    entry = taken[0]
    cell = entry.find_element(By.XPATH, "./ancestor::td")
    day, number = cell.get_attribute("data-day"), cell.get_attribute("data-number")
    subject = entry.find_element(By.TAG_NAME, "strong").text
    teacher = entry.find_element(By.TAG_NAME, "span").text.split(" · ")[0]
    cell.find_element(By.CSS_SELECTOR, "button.add").click()
    form = browser.find_element(By.ID, "entry-form")
    assert (
        Select(form.find_element(By.NAME, "weekday")).first_selected_option.get_attribute("value")
        == day
    )
    assert form.find_element(By.NAME, "lesson_number").get_attribute("value") == number
    Select(form.find_element(By.NAME, "subject_id")).select_by_visible_text(subject)
    Select(form.find_element(By.NAME, "teacher_id")).select_by_visible_text(teacher)
    Select(form.find_element(By.NAME, "room_id")).select_by_index(0)  # no room
    form.find_element(By.CSS_SELECTOR, "button").click()

    where = f"td#cell-{day}-{number}"
    try:
        WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
            lambda d: (
                "conflict" in (d.find_element(By.CSS_SELECTOR, where).get_attribute("class") or "")
            )
        )
    except TimeoutException as exc:
        status = browser.find_element(By.ID, "entry-status").text
        raise AssertionError(f"no conflict shown in {where}; status {status!r}") from exc
    reason = browser.find_element(By.CSS_SELECTOR, f"{where} .conflict-reason").text
    assert "уже" in reason and ("урок" in reason or "стоит" in reason), reason
    # Only that cell: the others are as they were.
    assert len(browser.find_elements(By.CSS_SELECTOR, "td.slot.conflict")) == 1
    screenshot(browser, "year-timetable-conflict")
    after = get(demo, "coordinator", f"/api/v1/schools/{school_id}/timetable", on=today)["total"]
    assert after == before  # nothing written

    # A teacher's week of the same teacher, chosen above the grid.
    Select(browser.find_element(By.NAME, "by")).select_by_value("teacher")
    WebDriverWait(browser, 30).until(lambda d: "by=teacher" in d.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Расписание: ")


def test_the_year_curriculum_day_and_messages_pages(demo: DemoServer, browser: WebDriver) -> None:
    sign_in(browser, demo, "coordinator", "/admin/web/timetable/year")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Учебный год, периоды и каникулы"
    periods = browser.find_elements(By.CSS_SELECTOR, "section.part table.data tbody tr")
    assert len(periods) >= 2, "the demo's year has its periods and holidays"
    screenshot(browser, "year-year")
    browser.get(f"{demo.base}/admin/web/timetable/curriculum")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Учебный план")
    assert browser.find_elements(By.CSS_SELECTOR, "table.loads tbody tr td")
    screenshot(browser, "year-curriculum")
    browser.get(f"{demo.base}/admin/web/timetable/day")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Уроки и замены на ")
    screenshot(browser, "year-day")
    browser.get(f"{demo.base}/admin/web/messages")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Сообщения школы"
    assert browser.find_element(By.ID, "announce-form")
    screenshot(browser, "messages")


def test_a_teacher_reads_the_timetable_without_its_forms(
    demo: DemoServer, browser: WebDriver
) -> None:
    sign_in(browser, demo, "teacher", "/admin/web/timetable")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Расписание: ")
    assert not browser.find_elements(By.ID, "entry-form")
    assert not browser.find_elements(By.CSS_SELECTOR, "td.slot button.add")
    browser.get(f"{demo.base}/admin/web/messages")
    assert "Сообщения школы ведут завуч" in browser.find_element(By.TAG_NAME, "main").text
