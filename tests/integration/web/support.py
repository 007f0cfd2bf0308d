"""Signing in to the staff web in integration tests: the admin's form, as a browser does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import Backend
from tests.support import TEST_PASSWORD


@asynccontextmanager
async def signed_in(
    world: Backend, login: str, start: str = "/admin/web/"
) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the app, signed in as `login` and sent on to `start`."""
    transport = world.client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as client:
        await client.get("/admin/tasks/login")
        r = await client.post(
            "/admin/tasks/login",
            data={
                "identifier": login,
                "password": TEST_PASSWORD,
                "csrf": client.cookies.get("parta_admin_csrf"),
                "next": start,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == start, r.text
        yield client


def csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token a page's forms carry (the double-submit cookie's value)."""
    token = client.cookies.get("parta_admin_csrf")
    assert token
    return token
