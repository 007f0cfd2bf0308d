"""The staff web's people section in headless Chromium against `parta demo`: the demo secretary
uploads a file of pupils with an error, reads the report (line, column, Russian reason), fixes
the file, checks it again and imports it; opens the class list and pupils' personal files; the
school administrator then finds the read in the audit log and opens the accounts page. With
PARTA_SCREENSHOTS=1 the pages are saved as docs/screenshots/web-people-*.png.

The demo is shared by the worker's browser tests: the pupils imported here have names of their
own (random letters), so a second run adds two more and takes nothing away."""

from __future__ import annotations

import csv
import io
import random
from datetime import date
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.support import REDRAWN, screenshot, sign_in
from tests.demo_server import DemoServer

pytestmark = pytest.mark.e2e

PEOPLE = "/admin/web/people"
HEADER = [
    "Фамилия",
    "Имя",
    "Отчество",
    "Класс",
    "Дата зачисления",
    "Номер приказа",
    "Дата рождения",
    "Адрес проживания",
    "Дата согласия на обработку ПДн",
]


def pupils_file(path: Path, surname: str, class_name: str, second_class: str) -> None:
    today = date.today().strftime("%d.%m.%Y")
    rows = [
        [surname, "Алина", "Маратовна", class_name, today, "77-у", "12.03.2015",
         "г. Казань, ул. Баумана, д. 5", today],
        [surname, "Тимур", "Маратович", second_class, today, "77-у", "12.03.2015",
         "г. Казань, ул. Баумана, д. 5", today],
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def wait_text(driver: WebDriver, element_id: str, text: str) -> str:
    WebDriverWait(driver, 30, ignored_exceptions=REDRAWN).until(
        lambda d: text in d.find_element(By.ID, element_id).text
    )
    return str(driver.find_element(By.ID, element_id).text)


def upload(driver: WebDriver, path: Path) -> None:
    driver.find_element(By.NAME, "file").send_keys(str(path))
    driver.find_element(By.ID, "check").click()


def test_a_secretary_imports_a_file_after_fixing_what_the_report_says(
    demo: DemoServer, browser: WebDriver, tmp_path: Path
) -> None:
    sign_in(browser, demo, "secretary", f"{PEOPLE}/")
    first_class = browser.find_element(By.CSS_SELECTOR, "#classes li a")
    class_name, class_url = first_class.text, first_class.get_attribute("href")
    surname = "Проверкина-" + "".join(random.choices("абвгдежзиклмнопрстуфхцчшэюя", k=6))

    # The class list, as the office opens it.
    browser.get(str(class_url))
    wait_text(browser, "roster", class_name.split("«")[0])
    screenshot(browser, "people-class")
    # A demo pupil's personal file, with guardians and the book of movement.
    browser.find_element(By.CSS_SELECTOR, "#roster tbody tr a").click()
    wait_text(browser, "history", "зачисление")
    screenshot(browser, "people-file")

    # A file whose second pupil names a class the school does not have.
    bad = tmp_path / "pupils.csv"
    pupils_file(bad, surname, class_name, "11Я")
    browser.get(f"{demo.base}{PEOPLE}/import")
    upload(browser, bad)
    message = wait_text(browser, "report-message", "Файл не импортирован")
    assert "найдено ошибок — 1" in message and "Ничего не записано" in message
    problem = browser.find_element(By.CSS_SELECTOR, "#problems tbody tr").text
    assert problem.startswith("3 Класс") and "Класса «11Я» нет в учебном году" in problem
    assert not browser.find_elements(By.ID, "confirm")
    screenshot(browser, "people-import-report")

    # Fixed: both in the class; the check writes nothing, "Импортировать" writes both.
    fixed = tmp_path / "pupils-fixed.csv"
    pupils_file(fixed, surname, class_name, class_name)
    browser.find_element(By.ID, "again").click()
    upload(browser, fixed)
    wait_text(browser, "report-message", "Ошибок нет. Строк с данными — 2: будет создано — 2")
    browser.find_element(By.ID, "confirm").click()
    wait_text(browser, "report-message", "Записано. Строк с данными — 2: создано — 2")

    # The new pupil's personal file: its read is audited.
    browser.get(f"{demo.base}{PEOPLE}/?q={surname} Алина")
    browser.find_element(By.CSS_SELECTOR, "#found a").click()
    wait_text(browser, "file", "г. Казань, ул. Баумана, д. 5")
    assert f"Личное дело: {surname} Алина Маратовна" in browser.find_element(By.TAG_NAME, "h1").text
    assert "77-у" in browser.find_element(By.ID, "history").text

    # The school administrator reads who opened it.
    browser.find_element(By.CSS_SELECTOR, "form[action='/admin/tasks/logout'] button").click()
    sign_in(browser, demo, "schooladmin", f"{PEOPLE}/audit?action=read.personal_file")
    log = wait_text(browser, "audit", "просмотр личного дела")
    assert "Миннуллина Гульнара Ришатовна" in log
    screenshot(browser, "people-audit")
    browser.get(f"{demo.base}{PEOPLE}/accounts")
    assert "Миннуллина Гульнара Ришатовна" in wait_text(browser, "accounts", "Секретарь")
    screenshot(browser, "people-accounts")
