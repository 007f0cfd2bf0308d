"""The class teacher of a class holds the class-teacher role at that class's scope: naming the
class teacher gives their account the role, naming another (or none) takes it back from the
previous one (decision 0206). A staff member without an account gets nothing yet."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from backend.accounts.services import give_grant, live_grant_ids
from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import SchoolClass, Staff

if TYPE_CHECKING:
    from backend.accounts.services import AccountsService


async def _grant_end(class_id: int) -> datetime:
    """The role lasts until the end of the class's academic year, in the school's time zone
    (next year's class is another class, with its own class teacher)."""
    row = (
        await SchoolClass.select(
            SchoolClass.academic_year.ends_on.as_alias("ends_on"),
            SchoolClass.school.time_zone.as_alias("time_zone"),
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    assert row is not None  # the caller has just read or written the class
    zone = ZoneInfo(row["time_zone"] or "Europe/Moscow")
    return datetime.combine(row["ends_on"] + timedelta(days=1), time(0, 0), tzinfo=zone)


async def follow_class_teacher(
    actor: Actor,
    class_id: int,
    before: int | None,
    after: int | None,
    *,
    accounts: AccountsService | None,
) -> None:
    """In the caller's transaction, after the class's `class_teacher` changed from staff member
    `before` to `after`. Taking the role back ends the previous holder's sessions (their token
    carries it), which needs `accounts`; giving it does not."""
    if before == after:
        return
    wanted = [i for i in (before, after) if i is not None]
    users = {
        r["id"]: r["user_id"]
        for r in await Staff.select(Staff.id, Staff.user_id).where(Staff.id.is_in(wanted))
    }
    old_user = users.get(before) if before is not None else None
    new_user = users.get(after) if after is not None else None
    if old_user is not None and old_user != new_user:
        held = await live_grant_ids(old_user, Role.CLASS_TEACHER, ScopeKind.CLASS, class_id)
        if held:
            if accounts is None:  # pragma: no cover - a wiring mistake, not an input
                raise RuntimeError("taking the class-teacher role back needs the accounts service")
            await accounts.revoke_grants(actor, held)
    if new_user is not None and not await live_grant_ids(
        new_user, Role.CLASS_TEACHER, ScopeKind.CLASS, class_id
    ):
        grant = Grant(
            Role.CLASS_TEACHER, ScopeKind.CLASS, class_id, valid_until=await _grant_end(class_id)
        )
        await give_grant(actor, new_user, grant)
