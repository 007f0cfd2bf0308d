"""Sign-in, tokens, logout, activation codes, password reset and change, account management."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest

from backend.accounts.tokens import AccessTokens
from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.events.tables import OutboxEvent
from tests.conftest import Backend
from tests.support import TEST_PASSWORD, SignedIn, make_tenancy, make_user, sign_in

LOGIN = "/api/v1/auth/login"


async def login(
    client: httpx.AsyncClient, identifier: str, password: str = TEST_PASSWORD
) -> httpx.Response:
    return await client.post(LOGIN, json={"identifier": identifier, "password": password})


def client_from(world: Backend, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=world.app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://parta.test")


async def test_sign_in_by_login_phone_or_email(world: Backend) -> None:
    await world.accounts.create_user(
        Actor.system(),
        password=TEST_PASSWORD,
        display_name="Сидорова Анна",
        login="anna.s",
        phone="8 (912) 345-67-89",
        email="Anna.Sidorova@Example.ru",
        grants=[Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM)],
        check_rights=False,
    )
    for identifier in (
        "anna.s",
        "ANNA.S",
        "+79123456789",
        "89123456789",
        "anna.sidorova@example.ru",
    ):
        response = await login(world.client, identifier)
        assert response.status_code == 200, (identifier, response.text)
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 15 * 60
    me = await world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    profile = me.json()
    assert profile["phone"] == "+79123456789"
    assert profile["email"] == "anna.sidorova@example.ru"
    assert profile["grants"][0]["role"] == "system_admin"
    assert profile["grants"][0]["role_name"] == "Системный администратор"


async def test_wrong_password_is_a_clear_401(world: Backend) -> None:
    _, user_login = await make_user(world)
    response = await login(world.client, user_login, "wrong-password")
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_credentials",
        "message": "Неверный логин или пароль.",
        "details": None,
    }
    # An unknown account answers exactly the same.
    unknown = await login(world.client, "nobody-at-all", "wrong-password")
    assert unknown.status_code == 401
    assert unknown.json() == response.json()


async def test_failed_sign_ins_are_throttled_per_account(world: Backend) -> None:
    _, victim = await make_user(world)
    _, other = await make_user(world)
    for _ in range(world.settings.login_failures_per_account):
        assert (await login(world.client, victim, "bad-guess-123")).status_code == 401
    blocked = await login(world.client, victim)  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_requests"
    assert "Повторите через 15 мин." in blocked.json()["message"]
    assert 0 < int(blocked.headers["Retry-After"]) <= world.settings.login_failure_window_seconds
    # Another account from the same address is not locked by this one's failures.
    assert (await login(world.client, other)).status_code == 200
    # A success clears the counter (here: once the window has passed, simulated by expiry).
    await world.redis.delete(f"parta:auth:fail:acct:login:{victim}")
    assert (await login(world.client, victim)).status_code == 200


async def test_failed_sign_ins_are_throttled_per_address(world: Backend) -> None:
    limit = world.settings.login_failures_per_address
    async with (
        client_from(world, "198.51.100.7") as attacker,
        client_from(world, "198.51.100.8") as neighbour,
    ):
        for n in range(limit):
            response = await login(attacker, f"guess-{n}", "bad-guess-123")
            assert response.status_code == 401
        _, user_login = await make_user(world)
        refused = await login(attacker, user_login)
        assert refused.status_code == 429
        assert (await login(neighbour, user_login)).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_session(world: Backend) -> None:
    me = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    first = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": me.refresh_token}
    )
    assert first.status_code == 200
    new_refresh = first.json()["refresh_token"]
    assert new_refresh != me.refresh_token
    # The spent token comes back: a thief. Everything of this session dies.
    replay = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": me.refresh_token}
    )
    assert replay.status_code == 401
    assert replay.json()["message"] == "Сеанс завершён. Войдите заново."
    after = await world.client.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
    assert after.status_code == 401
    denied = await world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert denied.status_code == 401


async def test_logout_revokes_access_and_refresh(world: Backend) -> None:
    me = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    other = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    assert (await world.client.get("/api/v1/accounts/me", headers=me.headers)).status_code == 200
    out = await world.client.post("/api/v1/auth/logout", headers=me.headers)
    assert out.status_code == 200
    assert out.json()["message"] == "Вы вышли из системы."
    assert (await world.client.get("/api/v1/accounts/me", headers=me.headers)).status_code == 401
    refresh = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": me.refresh_token}
    )
    assert refresh.status_code == 401
    # Someone else's session is untouched.
    assert (await world.client.get("/api/v1/accounts/me", headers=other.headers)).status_code == 200


async def test_every_process_learns_of_a_revoked_session_at_once(world: Backend) -> None:
    """API processes keep the revoked sessions in memory, told by Redis pub/sub; one that
    starts later loads what was revoked before it."""
    import asyncio
    import time

    from backend.accounts.tokens import RevokedSessions

    async def until(condition: Any) -> None:
        deadline = time.monotonic() + 5
        while not await condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)

    writer, follower = RevokedSessions(world.redis), RevokedSessions(world.redis)
    assert await follower.is_revoked("") is True  # a token without a session is refused
    follower.start()
    try:

        async def live() -> bool:
            return follower._live

        await until(live)
        assert await follower.is_revoked("s-1") is False
        await writer.revoke("s-1", 60)

        async def learned() -> bool:
            return await follower.is_revoked("s-1")

        await until(learned)
        assert await follower.is_revoked("s-2") is False
        late = RevokedSessions(world.redis)
        late.start()
        try:

            async def late_live() -> bool:
                return late._live

            await until(late_live)
            assert await late.is_revoked("s-1") is True
            assert await late.is_revoked("s-2") is False
        finally:
            await late.stop()
    finally:
        await follower.stop()
    # Not following (stopped): it asks Redis, with the same answers.
    assert await follower.is_revoked("s-1") is True
    assert await follower.is_revoked("s-2") is False


async def test_expired_and_forged_tokens_are_refused(world: Backend) -> None:
    user_id, _ = await make_user(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    grants = [Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM)]
    past = int(time.time()) - 120
    token = jwt.encode(
        {"sub": str(user_id), "iat": past - 900, "exp": past, "extras": {"sid": "s", "grants": []}},
        world.accounts.tokens.jwt_auth.token_secret,
        algorithm="HS256",
    )
    response = await world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["message"] in (
        "Срок действия сеанса истёк. Войдите заново.",
        "Сеанс недействителен. Войдите заново.",
    )
    forged = AccessTokens.unused().issue(user_id, grants, "sid", "x")  # another secret
    response = await world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert response.json()["error"] in ("token_invalid", "not_authenticated")


async def test_staff_create_accounts_only_within_their_school(world: Backend) -> None:
    ids = await make_tenancy(world)
    admin_a = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, ids["school_a"]))

    def body(school: int, role: str = "teacher", kind: str = "school") -> dict[str, object]:
        return {
            "display_name": "Новый сотрудник",
            "password": "long-enough-password",
            "login": world.unique("staff"),
            "grants": [{"role": role, "scope_kind": kind, "scope_id": school}],
        }

    ok = await world.client.post(
        "/api/v1/accounts/users", json=body(ids["school_a"]), headers=admin_a.headers
    )
    assert ok.status_code == 201, ok.text
    other_school = await world.client.post(
        "/api/v1/accounts/users", json=body(ids["school_b"]), headers=admin_a.headers
    )
    assert other_school.status_code == 403
    official = await world.client.post(
        "/api/v1/accounts/users",
        json=body(ids["region"], "regional_official", "region"),
        headers=admin_a.headers,
    )
    assert official.status_code == 403
    wrong_shape = await world.client.post(
        "/api/v1/accounts/users",
        json=body(ids["school_a"], "guardian", "school"),
        headers=admin_a.headers,
    )
    assert wrong_shape.status_code == 400
    assert wrong_shape.json()["message"] == (
        "Роль «Родитель (законный представитель)» не может быть выдана на уровне «школа». "
        "Допустимо: «ученик»."
    )
    duplicate = body(ids["school_a"])
    duplicate["login"] = ok.json()["login"]
    taken = await world.client.post(
        "/api/v1/accounts/users", json=duplicate, headers=admin_a.headers
    )
    assert taken.status_code == 409
    assert taken.json()["message"] == "Такой логин уже используется другой учётной записью."


async def test_grants_take_effect_after_refresh_and_can_be_revoked(world: Backend) -> None:
    ids = await make_tenancy(world)
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    person = await sign_in(world)
    audit = await world.client.get("/api/v1/audit", headers=person.headers)
    assert audit.status_code == 403
    given = await world.client.post(
        f"/api/v1/accounts/users/{person.user_id}/grants",
        json={"role": "school_admin", "scope_kind": "school", "scope_id": ids["school_a"]},
        headers=admin.headers,
    )
    assert given.status_code == 201
    fresh = (
        await world.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": person.refresh_token}
        )
    ).json()
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await world.client.get("/api/v1/audit", headers=headers)).status_code == 200
    revoked = await world.client.post(
        f"/api/v1/accounts/grants/{given.json()['id']}/revoke", headers=admin.headers
    )
    assert revoked.status_code == 204
    again = (
        await world.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}
        )
    ).json()
    headers = {"Authorization": f"Bearer {again['access_token']}"}
    assert (await world.client.get("/api/v1/audit", headers=headers)).status_code == 403


async def test_activation_code_creates_an_account_once(world: Backend) -> None:
    ids = await make_tenancy(world)
    secretary = await sign_in(world, Grant(Role.SECRETARY, ScopeKind.SCHOOL, ids["school_a"]))
    issued = await world.client.post(
        "/api/v1/accounts/activation-codes",
        json={
            "items": [
                {
                    "display_name": "Орлова Дарья Сергеевна",
                    "school_id": ids["school_a"],
                    "grants": [
                        {"role": "teacher", "scope_kind": "school", "scope_id": ids["school_a"]}
                    ],
                }
            ]
        },
        headers=secretary.headers,
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()[0]["code"]
    assert len(code) == 14 and code.count("-") == 2
    activated = await world.client.post(
        "/api/v1/auth/activate",
        json={
            "code": code.lower().replace("-", " "),
            "password": "my-own-password",
            "phone": "+7 917 000-11-22",
        },
    )
    assert activated.status_code == 201, activated.text
    headers = {"Authorization": f"Bearer {activated.json()['access_token']}"}
    profile = (await world.client.get("/api/v1/accounts/me", headers=headers)).json()
    assert profile["display_name"] == "Орлова Дарья Сергеевна"
    assert profile["phone"] == "+79170001122"
    assert [(g["role"], g["scope_id"]) for g in profile["grants"]] == [("teacher", ids["school_a"])]
    assert (await login(world.client, "+79170001122", "my-own-password")).status_code == 200
    again = await world.client.post(
        "/api/v1/auth/activate",
        json={"code": code, "password": "my-own-password", "login": "someone.else"},
    )
    assert again.status_code == 400
    assert again.json()["message"] == "Код активации неверен или уже использован."


async def test_secretary_cannot_issue_codes_for_another_school(world: Backend) -> None:
    ids = await make_tenancy(world)
    secretary = await sign_in(world, Grant(Role.SECRETARY, ScopeKind.SCHOOL, ids["school_a"]))
    response = await world.client.post(
        "/api/v1/accounts/activation-codes",
        json={
            "items": [
                {
                    "display_name": "X",
                    "grants": [
                        {"role": "teacher", "scope_kind": "school", "scope_id": ids["school_c"]}
                    ],
                }
            ]
        },
        headers=secretary.headers,
    )
    assert response.status_code == 403


async def _reset_code(world: Backend, user_id: int) -> str:
    row = (
        await OutboxEvent.select(OutboxEvent.payload)
        .where(OutboxEvent.kind == "account.password_reset_code")
        .output(load_json=True)
        .order_by(OutboxEvent.id, ascending=False)
        .first()
    )
    assert row is not None and row["payload"]["user_id"] == user_id
    assert row["payload"]["code"] in row["payload"]["text"]
    return str(row["payload"]["code"])


async def test_password_reset_by_one_time_code(world: Backend) -> None:
    me = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    asked = await world.client.post("/api/v1/auth/password-reset", json={"identifier": me.login})
    assert asked.status_code == 200
    unknown = await world.client.post(
        "/api/v1/auth/password-reset", json={"identifier": "no-such-user"}
    )
    assert unknown.json() == asked.json()  # says nothing about who exists
    code = await _reset_code(world, me.user_id)
    wrong = await world.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={
            "identifier": me.login,
            "code": "000000" if code != "000000" else "111111",
            "new_password": "brand-new-pass",
        },
    )
    assert wrong.status_code == 400
    done = await world.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"identifier": me.login, "code": code, "new_password": "brand-new-pass"},
    )
    assert done.status_code == 200, done.text
    assert (await login(world.client, me.login)).status_code == 401
    assert (await login(world.client, me.login, "brand-new-pass")).status_code == 200
    # The old session is gone; the code cannot be used twice.
    assert (
        await world.client.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh_token})
    ).status_code == 401
    reused = await world.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"identifier": me.login, "code": code, "new_password": "another-new-pass"},
    )
    assert reused.status_code == 400


async def test_reset_code_dies_after_five_wrong_attempts(world: Backend) -> None:
    me = await sign_in(world)
    await world.client.post("/api/v1/auth/password-reset", json={"identifier": me.login})
    code = await _reset_code(world, me.user_id)
    bad = "999999" if code != "999999" else "888888"
    for _ in range(5):
        await world.client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"identifier": me.login, "code": bad, "new_password": "brand-new-pass"},
        )
    late = await world.client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"identifier": me.login, "code": code, "new_password": "brand-new-pass"},
    )
    assert late.status_code == 400


async def test_change_password_keeps_this_session_only(world: Backend) -> None:
    me = await sign_in(world)
    elsewhere = await login(world.client, me.login)
    other_refresh = elsewhere.json()["refresh_token"]
    weak = await world.client.post(
        "/api/v1/accounts/me/password",
        json={"old_password": TEST_PASSWORD, "new_password": "12345678"},
        headers=me.headers,
    )
    assert weak.status_code == 400
    assert weak.json()["message"] == "Пароль слишком простой. Выберите другой."
    changed = await world.client.post(
        "/api/v1/accounts/me/password",
        json={"old_password": TEST_PASSWORD, "new_password": "a-better-password"},
        headers=me.headers,
    )
    assert changed.status_code == 200
    assert (await world.client.get("/api/v1/accounts/me", headers=me.headers)).status_code == 200
    assert (
        await world.client.post("/api/v1/auth/refresh", json={"refresh_token": other_refresh})
    ).status_code == 401


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "phone",
            "12345",
            "Номер телефона «12345» не распознан. Укажите номер в формате +7XXXXXXXXXX.",
        ),
        ("email", "not-an-email", "Адрес e-mail «not-an-email» некорректен."),
        (
            "login",
            "я",
            "Логин может содержать латинские буквы, цифры, точку, дефис и подчёркивание "
            "(3–64 символа).",
        ),
    ],
)
async def test_bad_identifiers_are_explained(
    world: Backend, field: str, value: str, message: str
) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    response = await world.client.post(
        "/api/v1/accounts/users",
        json={"display_name": "Кто-то", "password": "long-enough-password", field: value},
        headers=admin.headers,
    )
    assert response.status_code == 400
    assert response.json()["message"] == message


async def test_nobody_raises_their_own_role_or_gives_a_role_above_theirs(world: Backend) -> None:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    admin = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school))
    secretary = await sign_in(world, Grant(Role.SECRETARY, ScopeKind.SCHOOL, school))
    coordinator = await sign_in(world, Grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, school))
    colleague, _ = await make_user(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, school))

    def grant_of(role: str) -> dict[str, object]:
        return {"role": role, "scope_kind": "school", "scope_id": school}

    async def give(who: SignedIn, user_id: int, role: str) -> int:
        response = await world.client.post(
            f"/api/v1/accounts/users/{user_id}/grants",
            json=grant_of(role),
            headers=who.headers,  # type: ignore[attr-defined]
        )
        return response.status_code

    # To themselves: never.
    assert await give(secretary, secretary.user_id, "school_admin") == 403
    assert await give(coordinator, coordinator.user_id, "school_coordinator") == 403
    assert await give(admin, admin.user_id, "nurse") == 403
    # Above their own role: never, to anyone, by any route.
    assert await give(secretary, colleague, "school_admin") == 403
    assert await give(secretary, colleague, "school_coordinator") == 403
    assert await give(coordinator, colleague, "school_admin") == 403
    refused = await world.client.post(
        "/api/v1/accounts/users",
        json={
            "display_name": "Новый админ",
            "password": "long-enough-password",
            "login": "sneaky.admin",
            "grants": [grant_of("school_admin")],
        },
        headers=secretary.headers,
    )
    assert refused.status_code == 403
    assert (
        refused.json()["message"]
        == "Вы не можете выдавать или отзывать роль «Системный администратор школы»."
    )
    code = await world.client.post(
        "/api/v1/accounts/activation-codes",
        json={"items": [{"display_name": "X", "grants": [grant_of("school_admin")]}]},
        headers=secretary.headers,
    )
    assert code.status_code == 403
    # A class teacher's role takes a class, not a school: bad input, not a matter of rights.
    assert await give(secretary, colleague, "class_teacher") == 400
    # Within their powers: fine.
    assert await give(secretary, colleague, "nurse") == 201
    assert await give(admin, colleague, "school_coordinator") == 201
    # Taking back a role above theirs: as if it did not exist.
    row = await world.client.get("/api/v1/accounts/me", headers=admin.headers)
    admin_grant = row.json()["grants"][0]["id"]
    revoke = await world.client.post(
        f"/api/v1/accounts/grants/{admin_grant}/revoke", headers=secretary.headers
    )
    assert revoke.status_code == 404
    assert (await world.client.get("/api/v1/audit", headers=admin.headers)).status_code == 200


async def test_a_revoked_grant_stops_working_on_the_current_token_at_once(world: Backend) -> None:
    from backend.accounts.tables import RoleGrant

    ids = await make_tenancy(world)
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    teacher = await sign_in(
        world,
        Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, ids["school_a"]),
        Grant(Role.TEACHER, ScopeKind.SCHOOL, ids["school_b"]),
    )
    school_a = f"/api/v1/schools/{ids['school_a']}"
    assert (await world.client.get(school_a, headers=teacher.headers)).status_code == 200
    grant = await (
        RoleGrant.select(RoleGrant.id)
        .where((RoleGrant.user == teacher.user_id) & (RoleGrant.role == Role.SCHOOL_ADMIN.value))
        .first()
    )
    revoked = await world.client.post(
        f"/api/v1/accounts/grants/{grant['id']}/revoke", headers=admin.headers
    )
    assert revoked.status_code == 204, revoked.text
    # The token issued before carries the grant: refused now, as expired (the app refreshes).
    stale = await world.client.get(school_a, headers=teacher.headers)
    assert stale.status_code == 401, stale.text
    assert stale.json()["error"] == "token_expired"
    # Still signed in: the refreshed token carries only what is left.
    fresh = await world.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": teacher.refresh_token}
    )
    assert fresh.status_code == 200, fresh.text
    headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    left = await world.client.get(school_a, headers=headers)
    assert left.status_code == 404, left.text  # a teacher of school B does not see school A
    me = (await world.client.get("/api/v1/accounts/me", headers=headers)).json()
    assert [g["role"] for g in me["grants"]] == ["teacher"]
    # Others' tokens are untouched.
    assert (await world.client.get(school_a, headers=admin.headers)).status_code == 200


async def test_every_process_learns_of_changed_grants_at_once(world: Backend) -> None:
    import asyncio

    from backend.accounts.tokens import RevokedSessions

    writer, follower = RevokedSessions(world.redis), RevokedSessions(world.redis)
    before = time.time() - 1
    follower.start()
    try:
        for _ in range(500):
            if follower._live:
                break
            await asyncio.sleep(0.01)
        assert follower._live
        assert await follower.grants_changed_since(7, before) is False
        await writer.grants_changed(7, 60)
        for _ in range(500):
            if await follower.grants_changed_since(7, before):
                break
            await asyncio.sleep(0.01)
        assert await follower.grants_changed_since(7, before) is True
        assert await follower.grants_changed_since(7, time.time() + 1) is False  # issued after
        assert await follower.grants_changed_since(8, before) is False  # someone else
    finally:
        await follower.stop()
    # Not following: Redis answers the same.
    assert await follower.grants_changed_since(7, before) is True
    assert await follower.grants_changed_since(8, before) is False


async def _issue_codes(world: Backend, count: int) -> list[str]:
    ids = await make_tenancy(world)
    secretary = await sign_in(world, Grant(Role.SECRETARY, ScopeKind.SCHOOL, ids["school_a"]))
    item = {
        "display_name": "Родитель",
        "school_id": ids["school_a"],
        "grants": [{"role": "teacher", "scope_kind": "school", "scope_id": ids["school_a"]}],
    }
    issued = await world.client.post(
        "/api/v1/accounts/activation-codes",
        json={"items": [item] * count},
        headers=secretary.headers,
    )
    assert issued.status_code == 201, issued.text
    return [row["code"] for row in issued.json()]


async def test_mistyped_activation_codes_lock_only_that_person_not_the_school(
    world: Backend,
) -> None:
    """Parents of a school come from one NAT address: one parent's typos must not stop the
    others (the limit counts per phone or login first; the address has a high ceiling)."""
    (code,) = await _issue_codes(world, 1)
    async with client_from(world, "198.51.100.20") as school:
        for n in range(world.settings.login_failures_per_account):
            typo = await school.post(
                "/api/v1/auth/activate",
                json={"code": f"AAAA-BBBB-CC{n:02d}", "password": "my-own-password",
                      "phone": "+7 917 000-00-01"},
            )  # fmt: skip
            assert typo.status_code == 400, typo.text
        locked = await school.post(
            "/api/v1/auth/activate",
            json={"code": code, "password": "my-own-password", "phone": "+7 917 000-00-01"},
        )
        assert locked.status_code == 429, locked.text
        neighbour = await school.post(
            "/api/v1/auth/activate",
            json={"code": code, "password": "my-own-password", "phone": "+7 917 000-00-02"},
        )
        assert neighbour.status_code == 201, neighbour.text


async def test_the_forwarded_address_counts_only_from_a_trusted_proxy(world: Backend) -> None:
    """By default no proxy is trusted: a client cannot pick the address its failures are
    counted against (decision 0013)."""
    from backend.app import create_app
    from backend.audit.tables import AuditEntry
    from tests.conftest import running

    async def failed_sign_in_recorded_from(app: Any) -> str:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as c:
            refused = await c.post(
                "/api/v1/auth/login",
                json={"identifier": "nobody.here", "password": "wrong-password"},
                headers={"X-Forwarded-For": "203.0.113.99, 10.1.2.3"},
            )
            assert refused.status_code == 401, refused.text
        row = await (
            AuditEntry.select(AuditEntry.actor_ip).order_by(AuditEntry.id, ascending=False).first()
        )
        return str(row["actor_ip"])

    assert world.settings.trusted_proxies == []
    assert await failed_sign_in_recorded_from(world.app) == "127.0.0.1"
    behind = world.settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8"]})
    app = create_app(behind, engine=world.engine, redis=world.redis)
    async with running(app):
        # The first address left of the trusted hops: 10.1.2.3 is not trusted here.
        assert await failed_sign_in_recorded_from(app) == "10.1.2.3"


async def test_a_grant_change_in_one_redis_database_reaches_no_other(world: Backend) -> None:
    """Pub/sub channels are shared by all databases of a Redis server: two installations (or
    two test runs) on one server must not refuse each other's users' tokens by user id."""
    if world.kind != "postgres":
        pytest.skip("the in-process Redis substitute has one database")
    from redis.asyncio import Redis

    from backend.accounts.tokens import RevokedSessions

    url = world.settings.redis_url
    base, db = url.rsplit("/", 1)
    other_url = f"{base}/{(int(db) + 1) % 16}"
    here, there = RevokedSessions(Redis.from_url(url)), RevokedSessions(Redis.from_url(other_url))
    assert here.channel != there.channel
    there.start()
    try:
        for _ in range(100):  # until the other one listens
            if there._live:
                break
            await asyncio.sleep(0.05)
        issued = time.time()
        await here.grants_changed(4242, 60)
        await asyncio.sleep(0.3)
        assert await here.grants_changed_since(4242, issued) is True
        assert await there.grants_changed_since(4242, issued) is False
    finally:
        await there.stop()
        await here.redis.aclose()
        await there.redis.aclose()
