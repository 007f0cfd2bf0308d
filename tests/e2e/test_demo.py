"""README's first command: `parta demo` starts on SQLite with nothing else installed, serves the
API, the printed demo logins work, and its worker delivers to the stand-ins."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_server import free_port, start_demo

pytestmark = pytest.mark.e2e


def test_demo_serves_and_its_logins_work(tmp_path: Path) -> None:
    try:
        server = start_demo(tmp_path, wait_s=120)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    base = server.base
    try:
        assert httpx.get(f"{base}/ready").json()["status"] == "ok"
        schema = httpx.get(f"{base}/schema/openapi.json").json()
        assert "/api/v1/auth/login" in schema["paths"]
        for login in ("admin", "teacher", "coordinator"):
            response = httpx.post(
                f"{base}/api/v1/auth/login", json={"identifier": login, "password": "parta-demo"}
            )
            assert response.status_code == 200, response.text
            me = httpx.get(
                f"{base}/api/v1/accounts/me",
                headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            )
            assert me.status_code == 200 and me.json()["grants"]
        _an_announcement_reaches_the_parents_phone(base)
        _the_parent_links_the_bot_as_readme_shows(base)
        _the_parent_links_the_max_bot_through_the_deep_link(base)
        _the_parent_tops_up_through_the_yookassa_standin(base)
        _the_parent_tops_up_from_the_bot(base)
    finally:
        output = server.stop()
    assert "parta-demo" in output  # the logins were printed
    assert "teacher" in output
    assert f"{base}/admin/web/" in output  # the staff web's address
    assert "mobile.family" in output and "parta-teacher" in output  # how to start the apps
    # the banner and Ctrl+C in Russian (trial 2026-12-07: «API docs:», «health:», and at the
    # stop «MAX long polling failed: …», «Giving up _do_request(...)»)
    flat = " ".join(output.split())  # (the console wraps long lines)
    assert f"Документация API: {base}/schema Проверка работы: {base}/health" in flat
    for english in ("API docs", "health:", "long polling failed", "Giving up", "Backing off"):
        assert english not in output, (english, output[-3000:])
    assert flat.endswith("Парта останавливается… Парта остановлена."), output[-3000:]


def test_the_demo_holds_its_port_before_it_says_it_runs(tmp_path: Path) -> None:
    """It binds before seeding: when the banner appears nothing else can take the port (it
    used to seed, print, and only then bind, dying after saying it ran)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    command = [sys.executable, "-m", "backend.cli", "demo", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "Парта запущена" in line:
                with socket.socket() as other, pytest.raises(OSError):
                    other.bind(("127.0.0.1", port))
                break
        else:
            pytest.fail("parta demo exited before its banner:\n" + "".join(seen))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _an_announcement_reaches_the_parents_phone(base: str) -> None:
    """The demo runs the notifications worker and the stand-ins: an announcement by the
    coordinator reaches the demo parent's phone (the FCM stand-in) and shows on the page."""
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": "coordinator", "password": "parta-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    school_id = httpx.get(f"{base}/api/v1/accounts/me", headers=headers).json()["grants"][0][
        "scope_id"
    ]
    sent = httpx.post(
        f"{base}/api/v1/messaging/announcements",
        headers=headers,
        json={"school_id": school_id, "title": "Собрание", "text": "В четверг в 18:00."},
    )
    assert sent.status_code == 201, sent.text
    deadline = time.monotonic() + 30
    while True:
        received = httpx.get(f"{base}/demo/deliveries.json").json()
        pushes = [p for p in received["push"] if p["token"] == "demo-phone-of-the-parent"]
        if pushes:
            break
        assert time.monotonic() < deadline, f"no push reached the stand-in: {received}"
        time.sleep(0.5)
    assert "Собрание" in pushes[0]["body"]
    page = httpx.get(f"{base}/demo/deliveries")
    assert page.status_code == 200 and "Push (FCM): 1" in page.text


def _bot_chat(base: str, chat: int, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 30
    while True:
        messages: list[dict[str, object]] = httpx.get(f"{base}/demo/telegram/{chat}").json()
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, f"the bot did not answer: {messages}"
        time.sleep(0.3)


def _the_parent_links_the_bot_as_readme_shows(base: str) -> None:
    """README's bot steps: a code from the API, sent into the stand-in's chat, links the demo
    parent; the week comes back with buttons that page it in place."""
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": "parent", "password": "parta-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    link = httpx.post(
        f"{base}/api/v1/messaging/chat-links", headers=headers, json={"messenger": "telegram"}
    ).json()
    assert link["deep_link"] == f"https://t.me/parta_bot?start={link['payload']}"
    chat = f"{base}/demo/telegram/200001"
    assert httpx.post(chat, json={"text": link["code"]}).status_code == 202
    linked, menu = _bot_chat(base, 200001, 2)[-2:]
    assert str(linked["text"]).startswith("Готово: чат подключён")
    week = next(data for label, data in menu["buttons"] if label == "Неделя")  # type: ignore[union-attr]
    assert httpx.post(chat, json={"press": week}).status_code == 202
    deadline = time.monotonic() + 30
    while "неделя с" not in str(_bot_chat(base, 200001, 2)[-1]["text"]):
        assert time.monotonic() < deadline, "the week was not shown"
        time.sleep(0.3)
    assert len(_bot_chat(base, 200001, 2)) == 2  # the menu became the week: edited in place


def _the_parent_links_the_max_bot_through_the_deep_link(base: str) -> None:
    """The demo runs the bot on MAX too: Start pressed through the deep link's payload links
    the MAX stand-in's dialog, and the menu's «Неделя» becomes the week in the same message."""
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": "parent", "password": "parta-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    link = httpx.post(
        f"{base}/api/v1/messaging/chat-links", headers=headers, json={"messenger": "max"}
    ).json()
    assert link["deep_link"] == f"https://max.ru/parta_bot?start={link['payload']}"
    dialog = f"{base}/demo/max/300001"

    def messages(count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while True:
            shown: list[dict[str, Any]] = httpx.get(dialog).json()
            if len(shown) >= count:
                return shown
            assert time.monotonic() < deadline, f"the MAX bot did not answer: {shown}"
            time.sleep(0.3)

    assert httpx.post(dialog, json={"start": link["payload"]}).status_code == 202
    linked, menu = messages(2)[-2:]
    assert str(linked["text"]).startswith("Готово: чат подключён")
    week = next(data for label, data in menu["buttons"] if label == "Неделя")
    assert httpx.post(dialog, json={"press": week}).status_code == 202
    deadline = time.monotonic() + 30
    while "неделя с" not in str(messages(2)[-1]["text"]):
        assert time.monotonic() < deadline, "the week was not shown in MAX"
        time.sleep(0.3)
    assert len(messages(2)) == 2  # the menu became the week: edited in place


def _the_parent_tops_up_through_the_yookassa_standin(base: str) -> None:
    """The demo parent tops up the child's meal account: YooKassa's stand-in shows its payment
    page, «Оплатить» sends the notification to the demo's API, the money arrives."""
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": "parent", "password": "parta-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    grants = httpx.get(f"{base}/api/v1/accounts/me", headers=headers).json()["grants"]
    student = next(g["scope_id"] for g in grants if g["scope_kind"] == "student")
    before = httpx.get(f"{base}/api/v1/meals/pupils/{student}/account", headers=headers).json()
    created = httpx.post(
        f"{base}/api/v1/meals/pupils/{student}/top-ups",
        headers=headers,
        json={
            "amount": 50_000,
            "idempotency_key": "demo-top-up-1",
            "receipt_email": "p@example.ru",
        },
    )
    assert created.status_code == 201, created.text
    page_url = created.json()["confirmation_url"]
    assert "500,00 ₽" in httpx.get(page_url).text
    paid = httpx.post(page_url, data={"action": "pay"}, follow_redirects=False)
    assert paid.status_code == 302, paid.text
    # back on our own page of the top-up, in Russian (not the API's documents)
    back = httpx.get(paid.headers["location"])
    assert paid.headers["location"].startswith(f"{base}/payments/"), paid.headers
    assert back.status_code == 200 and "<h1>Оплата принята</h1>" in back.text, back.text
    account = httpx.get(f"{base}/api/v1/meals/pupils/{student}/account", headers=headers).json()
    assert account["posted"] == before["posted"] + 50_000, (before, account)
    assert account["available"] == before["available"] + 50_000, (before, account)
    statement = httpx.get(f"{base}/api/v1/meals/pupils/{student}/statement", headers=headers).json()
    newest = statement["items"][0]
    assert (newest["kind_name"], newest["amount"]) == ("Пополнение", 50_000)
    received = httpx.get(f"{base}/demo/deliveries.json").json()["yookassa"]
    assert [r["status"] for r in received if r["call"] == "notification"] == [200]


def _the_parent_tops_up_from_the_bot(base: str) -> None:
    """README's bot top-up: /meals, «Пополнить счёт», 500 ₽, an e-mail for the receipt; the
    «Оплатить» button opens the YooKassa stand-in's page, and paying there credits the child."""
    login = httpx.post(
        f"{base}/api/v1/auth/login", json={"identifier": "parent", "password": "parta-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    grants = httpx.get(f"{base}/api/v1/accounts/me", headers=headers).json()["grants"]
    student = next(g["scope_id"] for g in grants if g["scope_kind"] == "student")
    account = f"{base}/api/v1/meals/pupils/{student}/account"
    before = httpx.get(account, headers=headers).json()
    chat = f"{base}/demo/telegram/200001"

    def shown(condition: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            last: dict[str, Any] = httpx.get(chat).json()[-1]
            if condition(last):
                return last
            assert time.monotonic() < deadline, f"the bot did not answer: {last}"
            time.sleep(0.3)

    def press(message: dict[str, Any], label: str) -> None:
        data = next(d for text, d in message["buttons"] if text == label)
        assert httpx.post(chat, json={"press": data}).status_code == 202

    assert httpx.post(chat, json={"text": "/meals"}).status_code == 202
    meals = shown(lambda m: "питание" in str(m["text"]))
    press(meals, "Пополнить счёт")
    press(shown(lambda m: str(m["text"]).startswith("Пополнение счёта")), "500,00 ₽")
    shown(lambda m: str(m["text"]).startswith("Куда прислать кассовый чек"))
    assert httpx.post(chat, json={"text": "p@example.ru"}).status_code == 202
    link = shown(lambda m: str(m["text"]).startswith("Пополнение на 500,00 ₽"))
    page_url = next(url for text, url in link["buttons"] if text == "Оплатить 500,00 ₽")
    assert "500,00 ₽" in httpx.get(page_url).text
    paid = httpx.post(page_url, data={"action": "pay"}, follow_redirects=False)
    assert paid.status_code == 302, paid.text
    # back on our own page of the top-up, in Russian (not the API's documents)
    back = httpx.get(paid.headers["location"])
    assert paid.headers["location"].startswith(f"{base}/payments/"), paid.headers
    assert back.status_code == 200 and "<h1>Оплата принята</h1>" in back.text, back.text
    after = httpx.get(account, headers=headers).json()
    assert after["posted"] == before["posted"] + 50_000, (before, after)
