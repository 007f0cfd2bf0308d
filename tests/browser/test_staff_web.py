"""The staff web in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)
against a real backend (`parta demo` as a process): a teacher fills a lesson's attendance and
marks with the keyboard and the family's diary shows them; a POST without the CSRF token is
refused; a guardian or a pupil who signs in sees no staff page. With PARTA_SCREENSHOTS=1 the
pages are saved as docs/screenshots/web-*.png (1366×768, an office screen; and a tablet)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import REDRAWN, get, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e


def cell(driver: WebDriver, lesson_id: int, pupil: int) -> WebElement:
    return driver.find_element(
        By.CSS_SELECTOR, f"td.cell[data-lesson='{lesson_id}'][data-pupil='{pupil}']"
    )


def wait_cell(driver: WebDriver, lesson_id: int, pupil: int, text: str) -> WebElement:
    try:
        WebDriverWait(driver, 30, ignored_exceptions=REDRAWN).until(
            lambda d: (
                "".join(cell(d, lesson_id, pupil).text.split()) == text
                and "saving" not in (cell(d, lesson_id, pupil).get_attribute("class") or "")
            )
        )
    except TimeoutException as exc:
        status = driver.find_element(By.ID, "journal-status").text
        now = cell(driver, lesson_id, pupil).get_attribute("outerHTML")
        raise AssertionError(f"cell not {text!r}: {now}; status {status!r}") from exc
    return cell(driver, lesson_id, pupil)


def a_free_lesson(demo: DemoServer, child: int) -> dict[str, Any]:
    """The teacher's latest lesson (within the marking window) with the child in it and
    nothing recorded for the child yet."""
    today = date.today()
    recent = get(demo, "teacher", "/api/v1/me/lessons", limit=500,
                 date_from=(today - timedelta(days=10)).isoformat(),
                 date_to=today.isoformat())["items"]  # fmt: skip
    recent.sort(key=lambda x: (x["date"], x["lesson_number"]), reverse=True)
    for row in recent:
        if row["status"] == "cancelled":
            continue
        sheet = get(demo, "teacher", f"/api/v1/journal/lessons/{row['id']}")
        if (
            sheet["class_id"]
            and child in {p["id"] for p in sheet["pupils"]}
            and child not in {a["student_id"] for a in sheet["attendance"]}
            and child not in {m["student_id"] for m in sheet["marks"]}
        ):
            return dict(sheet)
    raise AssertionError("no lesson of the demo teacher's without the child's records")


def test_a_teacher_fills_a_lesson_with_the_keyboard_and_the_diary_shows_it(
    demo: DemoServer, browser: WebDriver
) -> None:
    child = get(demo, "parent", "/api/v1/family/children")[0]["student_id"]
    sheet = a_free_lesson(demo, child)
    lesson_id, day = sheet["id"], sheet["date"]
    busy = {a["student_id"] for a in sheet["attendance"]} | {
        m["student_id"] for m in sheet["marks"]
    }
    pupils = [p["id"] for p in sheet["pupils"]]
    start = (date.fromisoformat(day) - timedelta(days=13)).isoformat()
    path = (
        f"/admin/web/journal?class_id={sheet['class_id']}&subject_id={sheet['subject_id']}"
        f"&from={start}&to={day}"
    )
    sign_in(browser, demo, "teacher", path)
    assert browser.current_url.endswith(path)
    assert "Журнал" in browser.find_element(By.TAG_NAME, "h1").text

    # The child's cell: «б» (sick), then the mark 5 — typed, not clicked.
    cell(browser, lesson_id, child).click()
    browser.switch_to.active_element.send_keys("б")
    wait_cell(browser, lesson_id, child, "б")
    browser.switch_to.active_element.send_keys("5")
    wait_cell(browser, lesson_id, child, "б5")
    # Down the column with the arrow key to the next pupil with nothing recorded: «н», then
    # a 4 put and taken back with Delete.
    below = next(p for p in pupils[pupils.index(child) + 1 :] if p not in busy)
    for _ in range(pupils.index(below) - pupils.index(child)):
        browser.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    assert browser.switch_to.active_element.get_attribute("data-pupil") == str(below)
    browser.switch_to.active_element.send_keys("н")
    wait_cell(browser, lesson_id, below, "н")
    browser.switch_to.active_element.send_keys("4")
    wait_cell(browser, lesson_id, below, "н4")
    browser.switch_to.active_element.send_keys(Keys.DELETE)
    wait_cell(browser, lesson_id, below, "н")
    assert browser.find_element(By.ID, "journal-status").text == "Сохранено."
    # A mark outside the scale is refused in words and nothing changes.
    browser.switch_to.active_element.send_keys("7")
    try:
        WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
            lambda d: "не подходит для шкалы" in d.find_element(By.ID, "journal-status").text
        )
    except TimeoutException as exc:
        status = browser.find_element(By.ID, "journal-status").get_attribute("outerHTML")
        raise AssertionError(f"{status} {browser.get_log('browser')}") from exc
    assert browser.find_elements(By.CSS_SELECTOR, "#journal-status .error")
    assert cell(browser, lesson_id, below).text == "н"
    screenshot(browser, "journal")

    # The lesson's topic, typed under the grid and sent with Enter.
    topic = browser.find_element(By.ID, f"topic-input-{lesson_id}")
    topic.clear()
    topic.send_keys("Дроби: сложение" + Keys.ENTER)
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: (
            d.find_element(By.ID, f"topic-input-{lesson_id}").get_attribute("value")
            == "Дроби: сложение"
            and d.find_element(By.ID, "journal-status").text == "Сохранено."
        )
    )

    homework = browser.find_element(By.ID, f"homework-input-{lesson_id}")
    homework.clear()
    homework.send_keys("№ 41–43" + Keys.ENTER)
    WebDriverWait(browser, 30, ignored_exceptions=REDRAWN).until(
        lambda d: (
            d.find_element(By.ID, f"homework-input-{lesson_id}").get_attribute("value") == "№ 41–43"
            and d.find_element(By.ID, "journal-status").text == "Сохранено."
        )
    )

    # A POST from the signed-in page without the CSRF token is refused.
    refused = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch('/admin/web/journal/cell', {method: 'POST', body: new URLSearchParams(
            {lesson_id: arguments[0], student_id: arguments[1], action: 'mark', value: '2',
             op_id: 'no-token'})}).then(r => r.text().then(t => done([r.status, t])));
        """,
        lesson_id,
        child,
    )
    assert refused[0] == 403 and "Форма устарела" in refused[1]

    # The family's diary (the API the family app reads) shows what the keyboard put in.
    week = get(demo, "parent", f"/api/v1/diary/students/{child}/week", date=day)
    lesson = next(
        x for d in week["days"] if d["date"] == day for x in d["lessons"]
        if x["lesson_id"] == lesson_id
    )  # fmt: skip
    assert lesson["attendance"]["status"] == "sick"
    assert lesson["topic"] == "Дроби: сложение"
    assert "№ 41–43" in [h["text"] for h in lesson["homework"]]
    assert [m["value"] for m in lesson["marks"]] == ["5"]
    teacher_view = get(demo, "teacher", f"/api/v1/journal/lessons/{lesson_id}")
    assert {a["student_id"]: a["status"] for a in teacher_view["attendance"]}[below] == "absent"
    assert below not in {m["student_id"] for m in teacher_view["marks"]}  # the 4 was deleted

    # The start page, and the grid on a tablet.
    browser.get(f"{demo.base}/admin/web/")
    assert "Журнал класса" in browser.page_source
    screenshot(browser, "home")
    browser.set_window_size(1024, 768)
    browser.get(f"{demo.base}{path}")
    assert "".join(cell(browser, lesson_id, child).text.split()) == "б5"
    screenshot(browser, "journal-tablet")


@pytest.mark.parametrize("login", ["parent", "pupil"])
def test_a_guardian_or_pupil_sees_no_staff_page(
    demo: DemoServer, browser: WebDriver, login: str
) -> None:
    sign_in(browser, demo, login, "/admin/web/journal")
    for path in ("/admin/web/journal", "/admin/web/"):
        browser.get(f"{demo.base}{path}")
        refusal = browser.find_element(By.ID, "refusal").text
        assert "Рабочее место открыто только сотрудникам школы" in refusal
        assert not browser.find_elements(By.CSS_SELECTOR, "table, td.cell, ul.sections a")
    if login == "parent":
        screenshot(browser, "refusal")
    # Their token cookie is no key to a cell either.
    answer = httpx.post(f"{demo.base}/admin/web/journal/cell", data={"action": "mark"})
    assert answer.status_code == 403
