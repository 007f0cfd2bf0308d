"""Bad input gets a 4xx with a clear Russian message, never a 500, and changes nothing."""

from __future__ import annotations

import pytest

from backend.accounts.tables import User
from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend
from tests.support import sign_in

LOGIN = "/api/v1/auth/login"


async def test_malformed_json(world: Backend) -> None:
    response = await world.client.post(
        LOGIN,
        content=b'{"identifier": "x", "password": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "malformed_json",
        "message": "Тело запроса не является корректным JSON.",
        "details": None,
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"identifier": 42, "password": "x"},
            "identifier",
            "Поле «телефон, e-mail или логин» имеет неверный формат.",
        ),
        ({"identifier": "x"}, "password", "Не заполнено обязательное поле «пароль»."),
        (
            {"identifier": "x", "password": "y", "remember_me": True},
            "remember_me",
            "Неизвестное поле «remember_me».",
        ),
        (
            {"identifier": "", "password": "y"},
            "identifier",
            "Поле «телефон, e-mail или логин» не может быть пустым.",
        ),
        ([1, 2, 3], "", "Данные не прошли проверку."),
    ],
)
async def test_validation_errors_name_the_field(
    world: Backend, body: object, field: str, message: str
) -> None:
    response = await world.client.post(LOGIN, json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    if field:
        assert payload["message"] == message, payload
        assert payload["details"][0]["field"] == field


async def test_oversized_body_is_413(world: Backend) -> None:
    huge = "x" * (world.settings.request_max_body_bytes + 10)
    response = await world.client.post(LOGIN, json={"identifier": huge, "password": "x"})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert "не более 1 МБ" in response.json()["message"]


async def test_wrong_types_in_query_and_path(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    response = await world.client.get("/api/v1/audit?since=yesterday", headers=admin.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    response = await world.client.get("/api/v1/audit?limit=100000", headers=admin.headers)
    assert response.status_code == 400
    response = await world.client.post("/api/v1/accounts/grants/abc/revoke", headers=admin.headers)
    assert response.status_code == 404, response.text
    assert response.status_code < 500


async def test_a_missing_query_parameter_is_named(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    response = await world.client.get(
        "/api/v1/journal/classes/1/final-marks?kind=year", headers=admin.headers
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["message"] == "Не заполнено обязательное поле «предмет».", payload
    assert payload["details"] == [{"field": "subject_id", "message": payload["message"]}]


async def test_wrong_method_and_content_type(world: Backend) -> None:
    response = await world.client.get(LOGIN)
    assert response.status_code == 405
    assert response.json()["message"] == "Этот метод не поддерживается для данного адреса."
    response = await world.client.post(
        LOGIN, content=b"identifier=x&password=y", headers={"Content-Type": "text/plain"}
    )
    assert 400 <= response.status_code < 500


async def test_rejected_create_stores_nothing(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    before = await User.count()
    response = await world.client.post(
        "/api/v1/accounts/users",
        json={
            "display_name": "Половинчатый",
            "password": "long-enough-password",
            "login": "half.done",
            "grants": [
                {"role": "teacher", "scope_kind": "school", "scope_id": 1},
                {"role": "guardian", "scope_kind": "school", "scope_id": 1},
            ],
        },
        headers=admin.headers,
    )
    assert response.status_code == 400
    assert await User.count() == before


async def test_numbers_and_dates_out_of_range_are_400(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    huge = 2**63
    for url in (
        f"/api/v1/audit?student_id={huge}",
        f"/api/v1/audit?offset={huge}",
        f"/api/v1/audit/students/{huge}/personal-data-reads",
    ):
        response = await world.client.get(url, headers=admin.headers)
        assert 400 <= response.status_code < 500, (url, response.text)
    response = await world.client.post(
        f"/api/v1/accounts/users/{huge}/grants",
        json={"role": "teacher", "scope_kind": "school", "scope_id": huge},
        headers=admin.headers,
    )
    assert response.status_code == 400
    # Ids are 32-bit: the range of each field is named (tests/unit/test_openapi_truth.py).
    assert {d["field"] for d in response.json()["details"]} == {"user_id", "scope_id"}
    assert all("не больше 2147483647" in d["message"] for d in response.json()["details"])


async def test_limits_are_explained_in_words(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    response = await world.client.get("/api/v1/audit?limit=100000", headers=admin.headers)
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "Значение поля «количество записей» должно быть не больше 500."
    )


async def test_no_token_at_all_says_sign_in(world: Backend) -> None:
    response = await world.client.get("/api/v1/accounts/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.json()["message"] == "Требуется вход в систему."
