"""The registry: cards resolve across formats, never collide, are blocked and replaced; who
reads whose entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.access.tables import AccessCard, AccessEvent
from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Permission, Role, ScopeKind
from backend.schools.tables import Staff
from tests.conftest import Backend
from tests.integration.access.arrange import BASE, turnstiles
from tests.support import sign_in


async def test_one_card_in_any_printed_form_finds_its_holder(world: Backend) -> None:
    t = await turnstiles(world, pupils=0)
    from backend.schools.tables import Student

    pupil = Student(school=t.school_id, last_name="Смирнова", first_name="Анна", sex="ж")
    await pupil.save()
    # Registered from the hex the issuing desk's reader printed (all 40 bits).
    issued = await world.client.post(
        f"{BASE}/schools/{t.school_id}/cards",
        json={
            "raw_value": "00:00:7B:B2:6E",
            "card_format": "em_marine_hex",
            "holder_kind": "student",
            "holder_id": pupil.id,
        },
        headers=t.security.headers,
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["canonical"] == "px40:00007BB26E"
    assert issued.json()["raw_value"] == "00:00:7B:B2:6E"
    now = datetime.now(UTC)
    forms = [("123,45678", "wiegand26"), ("0008106606", "wiegand34"), ("123,45678", "em_marine")]
    batch = [
        t.event(None, now - timedelta(minutes=3 - i), card=c, card_format=f)
        for i, (c, f) in enumerate(forms)
    ]
    # ...and a card differing only above the low 32 bits is a different card.
    batch.append(t.event(None, now, card="01:00:7B:B2:6E", card_format="em_marine_hex"))
    response = await t.post(batch)
    assert response.status_code == 200, response.text
    rows = await AccessEvent.select(AccessEvent.holder_id, AccessEvent.problem).order_by(
        AccessEvent.id
    )
    assert [r["holder_id"] for r in rows] == [pupil.id, pupil.id, pupil.id, None]
    assert rows[3]["problem"] == "unknown_card"


async def test_a_second_card_a_wiegand26_reader_could_not_tell_apart_is_refused(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=1)
    pupil = t.students[0]
    # The arranged card is "10,1000": 0x0A03E8 in the low 24 bits. A 32-bit number with the
    # same low 24 bits would read as the same card on a Wiegand-26 turnstile.
    clash = await world.client.post(
        f"{BASE}/schools/{t.school_id}/cards",
        json={
            "raw_value": str(0x050A03E8),
            "card_format": "wiegand34",
            "holder_kind": "student",
            "holder_id": pupil,
        },
        headers=t.security.headers,
    )
    assert clash.status_code == 409, clash.text
    assert "10,1000" in clash.json()["message"]
    # The same number in another school is another school's business.
    assert await AccessCard.count() == 1


async def test_a_lost_card_is_blocked_and_replaced_and_a_holder_may_have_several(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=1)
    pupil = t.students[0]
    staff = Staff(school=t.school_id, last_name="Охранов", first_name="Пётр")
    await staff.save()
    for raw, kind, holder in (("04A23BC1", "student", pupil), ("77,7", "staff", staff.id)):
        made = await world.client.post(
            f"{BASE}/schools/{t.school_id}/cards",
            json={
                "raw_value": raw,
                "card_format": "mifare_uid" if kind == "student" else "wiegand26",
                "holder_kind": kind,
                "holder_id": holder,
            },
            headers=t.security.headers,
        )
        assert made.status_code == 201, made.text
    listed = await world.client.get(
        f"{BASE}/schools/{t.school_id}/cards",
        params={"holder_kind": "student", "holder_id": pupil},
        headers=t.security.headers,
    )
    assert listed.json()["total"] == 2  # a card and a bracelet
    card_id = listed.json()["items"][0]["id"]
    replaced = await world.client.post(
        f"{BASE}/cards/{card_id}/replace",
        json={"raw_value": "11,2000", "card_format": "wiegand26"},
        headers=t.security.headers,
    )
    assert replaced.status_code == 201, replaced.text
    assert replaced.json()["holder_id"] == pupil
    old = await AccessCard.select().where(AccessCard.id == card_id).first()
    assert (old["status"], old["blocked_reason"], old["replaced_by"]) == (
        "blocked",
        "replaced",
        replaced.json()["id"],
    )
    again = await world.client.post(
        f"{BASE}/cards/{card_id}/block", json={"reason": "lost"}, headers=t.security.headers
    )
    assert again.status_code == 409
    # The old card no longer opens the turnstile: its pass is refused as blocked.
    now = datetime.now(UTC)
    response = await t.post(
        [t.event(pupil, now, card="10,1000"), t.event(pupil, now, card="11,2000")]
    )
    problems = [
        r["problem"] for r in await AccessEvent.select(AccessEvent.problem).order_by(AccessEvent.id)
    ]
    assert response.status_code == 200
    assert problems == ["blocked_card", ""]
    # A card for someone of another school is refused, naming the field.
    foreign = await world.client.post(
        f"{BASE}/schools/{t.school_id}/cards",
        json={
            "raw_value": "9,9",
            "card_format": "wiegand26",
            "holder_kind": "student",
            "holder_id": 999999,
        },
        headers=t.security.headers,
    )
    assert foreign.status_code == 400
    assert foreign.json()["details"][0]["field"] == "holder_id"


async def test_a_malformed_card_number_is_refused_in_russian(world: Backend) -> None:
    t = await turnstiles(world, pupils=1)
    refused = await world.client.post(
        f"{BASE}/schools/{t.school_id}/cards",
        json={
            "raw_value": "300,1",
            "card_format": "wiegand26",
            "holder_kind": "student",
            "holder_id": t.students[0],
        },
        headers=t.security.headers,
    )
    assert refused.status_code == 400
    assert "Серия карты" in refused.json()["message"]


async def test_a_parent_reads_only_their_own_child_and_a_delegate_needs_the_entries_part(
    world: Backend,
) -> None:
    t = await turnstiles(world, pupils=2)
    mine, other = t.students
    now = datetime.now(UTC)
    await t.post([t.event(mine, now - timedelta(minutes=1)), t.event(other, now)])
    parent = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, mine))
    today = now.date()
    params = {
        "date_from": (today - timedelta(days=1)).isoformat(),
        "date_to": (today + timedelta(days=1)).isoformat(),
    }
    own = await world.client.get(
        f"{BASE}/students/{mine}/entries", params=params, headers=parent.headers
    )
    assert own.status_code == 200, own.text
    assert len(own.json()["passes"]) == 1
    assert own.json()["days"][0]["first_entry_at"] is not None
    assert own.json()["days"][0]["inside"] is True
    theirs = await world.client.get(
        f"{BASE}/students/{other}/entries", params=params, headers=parent.headers
    )
    assert theirs.status_code == 404
    school = await world.client.get(
        f"{BASE}/schools/{t.school_id}/presence", headers=parent.headers
    )
    assert school.status_code == 404
    diary_only = await sign_in(
        world,
        Grant(Role.DELEGATE, ScopeKind.STUDENT, mine, parts=frozenset({Permission.DIARY_READ})),
    )
    refused = await world.client.get(
        f"{BASE}/students/{mine}/entries", params=params, headers=diary_only.headers
    )
    assert refused.status_code == 403  # holds no access right anywhere: the guard refuses
    entries = await sign_in(
        world,
        Grant(Role.DELEGATE, ScopeKind.STUDENT, mine, parts=frozenset({Permission.ACCESS_READ})),
    )
    allowed = await world.client.get(
        f"{BASE}/students/{mine}/entries", params=params, headers=entries.headers
    )
    assert allowed.status_code == 200
    # Family reads are their own business; security's read of a pupil's log is audited.
    assert await AuditEntry.count().where(AuditEntry.action == "read.access_log") == 0
    read = await world.client.get(
        f"{BASE}/students/{mine}/entries", params=params, headers=t.security.headers
    )
    assert read.status_code == 200
    audited = await AuditEntry.select().where(AuditEntry.action == "read.access_log").first()
    assert audited["student_id"] == mine
    assert audited["actor_user_id"] == t.security.user_id


async def test_security_sees_who_is_inside_now(world: Backend) -> None:
    t = await turnstiles(world, pupils=3)
    a, b, c = t.students
    now = datetime.now(UTC)
    await t.post(
        [
            t.event(a, now - timedelta(minutes=5)),
            t.event(b, now - timedelta(minutes=4)),
            t.event(b, now - timedelta(minutes=1), "out"),
            t.event(c, now - timedelta(minutes=3), result="denied"),
        ]
    )
    presence = await world.client.get(
        f"{BASE}/schools/{t.school_id}/presence", headers=t.security.headers
    )
    assert presence.status_code == 200, presence.text
    body = presence.json()
    assert body["students_inside"] == 1
    assert [p["holder_id"] for p in body["people"]] == [a]
    assert body["people"][0]["name"] == "Ученик0 Иван"
    other_school = await world.client.get(
        f"{BASE}/schools/{t.other_school_id}/presence", headers=t.security.headers
    )
    assert other_school.status_code == 404
