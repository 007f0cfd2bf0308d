"""The bot's entries and exits: the child's passes through the school's turnstiles today, in
the school's time zone, read through the access context's service (a family member reads
their own child's log; the rights are the API's)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.access import presence
from backend.i18n import t
from backend.schools.people import movement
from bots.core import Button, Child, Turn

if TYPE_CHECKING:
    from bots.core import FamilyBot


def install(bot: FamilyBot) -> None:
    async def command(turn: Turn, args: list[str]) -> None:
        child = await bot.current_child(turn, "ent")
        if child is not None:
            await show(turn, child)

    async def button(turn: Turn, args: list[str]) -> None:
        child = await bot.visible_child(turn, args[0] if args else None)
        if child is None:
            return
        await turn.put(child=str(child.id))
        await show(turn, child)

    bot.commands["entries"] = command
    bot.buttons["ent"] = button


def _local(moment: Any, zone: Any) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return str(moment.astimezone(zone).strftime("%H:%M"))


async def show(turn: Turn, child: Child) -> None:
    assert turn.actor is not None
    today = await movement.pupil_today(child.id)
    found = await presence.student_entries(turn.actor, child.id, today, today)
    target = await movement.student_target(child.id)
    zone = await presence.zone_of(target.school_id or 0)
    lines = [t("bot.entries.title", name=child.name, date=today.strftime("%d.%m"))]
    for item in found["passes"]:
        if item["result"] != "granted":
            continue
        key = "bot.entries.in" if item["direction"] == "in" else "bot.entries.out"
        lines.append(t(key, time=_local(item["occurred_at"], zone)))
    if len(lines) == 1:
        lines.append(t("bot.entries.none"))
    back = Button(t("bot.menu.back"), f"menu:{child.id}")
    await turn.say("\n".join(lines), ((Button(t("bot.menu.refresh"), f"ent:{child.id}"), back),))
