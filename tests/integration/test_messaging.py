"""School announcements: what every family of the school will read is checked first."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.core.rights import Grant, Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.messaging.tables import Notification
from tests.conftest import Backend
from tests.support import make_tenancy, sign_in

URL = "/api/v1/messaging/announcements"


async def test_an_announcement_needs_a_real_title_and_text(world: Backend) -> None:
    school = (await make_tenancy(world))["school_a"]
    me = await sign_in(world, Grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, school))
    for title, text in (("   ", "Собрание"), ("Собрание", " \n "), ("a\u0000b", "Текст")):
        body = {"school_id": school, "title": title, "text": text}
        refused = await world.client.post(URL, json=body, headers=me.headers)
        assert refused.status_code == 400, (title, text, refused.text)
        assert refused.json()["message"]
    assert await OutboxEvent.count() == 0  # nothing went out to families
    body = {
        "school_id": school,
        "title": "  Родительское собрание ",
        "text": "В четверг в 18:00.\nАктовый зал.",
    }
    sent = await world.client.post(URL, json=body, headers=me.headers)
    assert sent.status_code == 201, sent.text
    event = await OutboxEvent.select().output(load_json=True).first()
    assert event["payload"]["title"] == "Родительское собрание"
    assert event["payload"]["text"] == "В четверг в 18:00.\nАктовый зал."


async def test_a_preference_that_would_silently_mean_something_else_is_refused(
    world: Backend,
) -> None:
    me = await sign_in(world)
    url = "/api/v1/messaging/preferences"
    for body in (
        {"channels": []},
        {"quiet_from": "22:00", "quiet_to": "22:00"},
        {"kind": "x" * 5000},
    ):
        refused = await world.client.put(url, json=body, headers=me.headers)
        assert refused.status_code == 400, (body, refused.text)
        assert len(refused.json()["message"]) < 300
    kept = await world.client.put(
        url, json={"channels": ["telegram"], "quiet_from": "21:30"}, headers=me.headers
    )
    assert kept.status_code == 200, kept.text


async def test_marking_the_inbox_read_says_which_or_all(world: Backend) -> None:
    """An empty request changes nothing (it once marked the whole inbox read); `ids` marks
    those, `all: true` the rest, and only the person's own notifications."""
    me = await sign_in(world)
    other = await sign_in(world)
    now = datetime.now(UTC)
    mine = []
    for n, user in enumerate((me.user_id, me.user_id, me.user_id, other.user_id)):
        row = Notification(
            event_id=n + 1,
            user_id=user,
            kind="mark.created",
            title="Отметка",
            body="«5»",
            created_at=now,
        )
        await row.save()
        if user == me.user_id:
            mine.append(row.id)
    url = "/api/v1/messaging/inbox/read"
    for body in ({}, {"read": True}, {"all": True, "ids": [mine[0]]}):
        refused = await world.client.post(url, json=body, headers=me.headers)
        assert refused.status_code == 400, (body, refused.text)
        assert "all: true" in refused.json()["message"]
    assert await Notification.count().where(Notification.read_at.is_not_null()) == 0

    one = await world.client.post(url, json={"ids": [mine[0]]}, headers=me.headers)
    assert one.status_code == 200 and one.json() == {"changed": 1}
    rest = await world.client.post(url, json={"all": True}, headers=me.headers)
    assert rest.status_code == 200 and rest.json() == {"changed": 3}
    unread = await Notification.select(Notification.user_id).where(Notification.read_at.is_null())
    assert unread == [{"user_id": other.user_id}]
