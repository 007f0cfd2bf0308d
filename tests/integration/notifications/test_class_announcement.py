"""An announcement to one class reaches the families of that class's pupils only (the book of
movement on the day it is sent); a school-wide one reaches every family."""

from __future__ import annotations

from datetime import UTC, date, datetime

from backend.core.context import Actor
from backend.core.rights import Grant, Principal, Role, ScopeKind
from backend.messaging import services as messaging
from backend.messaging.tables import Delivery
from backend.schools.tables import AcademicYear, Enrollment, SchoolClass
from tests.integration.notifications.conftest import Notify
from tests.integration.notifications.helpers import make_family, wait_for
from tests.support import make_user


async def _class(school_id: int, year_id: int, letter: str) -> int:
    row = SchoolClass(school=school_id, academic_year=year_id, grade=5, letter=letter)
    await row.save()
    return int(row.id)


async def _enrol(school_id: int, student_id: int, class_id: int) -> None:
    await Enrollment(
        student=student_id,
        school=school_id,
        school_class=class_id,
        kind="admitted",
        date=date(2026, 9, 1),
        order_number="1",
        created_at=datetime.now(UTC),
    ).save()


async def test_a_class_announcement_reaches_that_class_only(notify: Notify) -> None:
    a = await make_family(notify.world, channels=["push"])
    b = await make_family(notify.world, channels=["push"], school_id=a.school_id, n=2)
    year = AcademicYear(
        school=a.school_id, name="2026/2027", starts_on=date(2026, 9, 1), ends_on=date(2027, 8, 31)
    )
    await year.save()
    class_a, class_b = (
        await _class(a.school_id, year.id, "А"),
        await _class(a.school_id, year.id, "Б"),
    )
    await _enrol(a.school_id, a.student_id, class_a)
    await _enrol(a.school_id, b.student_id, class_b)
    notify.clock.fixed = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    await notify.start()
    coordinator = Grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, a.school_id)
    user_id, _ = await make_user(notify.world, coordinator, name="Завуч")
    actor = Actor(principal=Principal(user_id, (coordinator,)))
    event_id = await messaging.announce(
        actor, a.school_id, "Собрание 5«А»", "В четверг.", True, class_a
    )

    async def delivered() -> bool:
        return bool(await Delivery.select().where(Delivery.event_id == event_id))

    await wait_for(delivered)
    rows = await Delivery.select(Delivery.user_id).where(Delivery.event_id == event_id)
    assert {r["user_id"] for r in rows} == {a.user_id}

    school_wide = await messaging.announce(actor, a.school_id, "Школа", "Всем.", True)

    async def both() -> bool:
        rows = await Delivery.select(Delivery.user_id).where(Delivery.event_id == school_wide)
        return {r["user_id"] for r in rows} == {a.user_id, b.user_id}

    await wait_for(both)
