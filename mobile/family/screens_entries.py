"""The family app's entries and the day's summary: the child's passes through the turnstile
today and over the last two weeks (in the school's time zone), and the card Today adds for a
guardian (the day's passes, the next meal order, the balance). The helpers here (who may see
what, the school's clock, the balance's lines) serve the meals screen too."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mobile.common import theme
from mobile.common.api import ApiError
from mobile.common.i18n import t
from mobile.common.models import FamilyChild
from mobile.common.models_meals import PupilAccount, StudentEntries
from mobile.common.money import roubles
from mobile.family.data import NothingKept, Read
from mobile.family.screens import FamilyScreen, day_title, short_date
from mobile.family.widgets import Card, Column, Text

if TYPE_CHECKING:
    from mobile.family.app import FamilyApp

HISTORY_DAYS = 14
ORDER_DAYS = 7  # the orders Today and the menu look at ahead
LIVE = ("ordered", "posted")  # an order that stands (not cancelled)


def may(child: FamilyChild | None, part: str) -> bool:
    """Does the person act for this child in `part` (a guardian: everything; a delegate: what
    the parent gave; a pupil's own account: neither meals nor entries)?"""
    if child is None or child.role == "pupil":
        return False
    return child.parts is None or part in child.parts


def local(moment: datetime, child: FamilyChild | None) -> datetime:
    """A moment in the school's time zone (the phone's own when the zone is not known)."""
    zone = None
    if child is not None and child.time_zone:
        try:
            zone = ZoneInfo(child.time_zone)
        except (KeyError, ValueError, OSError):  # a phone without the zone database
            zone = None
    return moment.astimezone(zone)


def clock(moment: datetime | None, child: FamilyChild | None) -> str:
    """A moment as the school's wall clock shows it («07:48»)."""
    return "—" if moment is None else local(moment, child).strftime("%H:%M")


def pass_line(direction: str, result: str, at: str) -> str:
    key = "in" if direction == "in" else "out"
    if result != "granted":
        key += "_denied"
    return t(f"family.entries.{key}", time=at)


def balance_lines(account: PupilAccount) -> list[str]:
    return [
        t("family.meals.available", sum=roubles(account.available)),
        t("family.meals.posted", sum=roubles(account.posted)),
        t("family.meals.held", sum=roubles(account.held)),
    ]


class EntriesScreen(FamilyScreen):
    """Today's passes in time order, then each school day of the last two weeks: the first
    entry and the last exit."""

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="entries")
        self.column = Column()
        self.add_widget(self.column)
        self.read: Read[StudentEntries] | None = None

    async def reload(self) -> None:
        child = self.app.child
        if not may(child, "access.read") or child is None:
            self.column.clear()
            self.column.add(Text(t("family.entries.not_yours"), color=theme.TEXT_MUTED))
            self.app.shown(None)
            return
        today = self.app.today()
        try:
            read = await self.app.data.entries(
                child.student_id, today - timedelta(days=HISTORY_DAYS), today
            )
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        self.draw(read, today)

    def draw(self, read: Read[StudentEntries], today: date) -> None:
        self.read = read
        child = self.app.child
        col = self.column
        col.clear()
        col.add(Text(t("family.entries.title"), font=theme.FONT_TITLE, bold=True))
        col.add(Text(t("family.entries.today", date=day_title(today)), bold=True))
        card = col.add(Card())
        passes = [p for p in read.value.passes if p.local_date == today]
        if not passes:
            card.add_widget(Text(t("family.entries.none_today"), color=theme.TEXT_MUTED))
        for p in passes:
            card.add_widget(Text(pass_line(p.direction, p.result, clock(p.occurred_at, child))))
        col.add(Text(t("family.entries.history"), bold=True))
        card = col.add(Card())
        days = [d for d in reversed(read.value.days) if d.date != today]
        if not days:
            card.add_widget(Text(t("family.entries.none"), color=theme.TEXT_MUTED))
        for day in days:
            card.add_widget(
                Text(
                    t(
                        "family.entries.day",
                        date=day_title(day.date),
                        entered=clock(day.first_entry_at, child),
                        left=clock(day.last_exit_at, child),
                    ),
                    font=theme.FONT_SMALL,
                )
            )
        self.app.shown(read)


async def today_extras(app: FamilyApp, child: FamilyChild, day: date) -> dict[str, Any]:
    """What Today adds for a guardian: the day's passes, the next order, the balance (each
    None when the person may not see it or nothing is known)."""
    found: dict[str, Any] = {"passes": None, "order": None, "account": None}
    if may(child, "access.read"):
        try:
            entries = await app.data.entries(child.student_id, day, day)
            found["passes"] = [p for p in entries.value.passes if p.local_date == day]
        except ApiError:
            pass
    if may(child, "meals.order"):
        try:
            orders = await app.data.orders(
                child.student_id, day + timedelta(days=1), day + timedelta(days=ORDER_DAYS)
            )
            live = sorted((o for o in orders.value if o.status in LIVE), key=lambda o: o.date)
            found["order"] = [o for o in live if o.date == live[0].date] if live else []
            found["account"] = (await app.data.account(child.student_id)).value
        except ApiError:
            pass
    return found


def draw_today_extras(card: Card, found: dict[str, Any], child: FamilyChild, day: date) -> None:
    """Today's card of entries and meals (the screen adds it under the lessons)."""
    card.clear_widgets()
    passes = found["passes"]
    if passes is not None:
        card.add_widget(Text(t("family.today.entries"), bold=True))
        if not passes:
            card.add_widget(Text(t("family.entries.none_today"), color=theme.TEXT_MUTED))
        for p in passes:
            card.add_widget(Text(pass_line(p.direction, p.result, clock(p.occurred_at, child))))
    orders = found["order"]
    if orders is not None:
        card.add_widget(Text(t("family.today.meals"), bold=True))
        if not orders:
            card.add_widget(Text(t("family.today.no_order"), color=theme.TEXT_MUTED))
        for order in orders:
            when = (
                t("family.today.tomorrow")
                if order.date == day + timedelta(days=1)
                else short_date(order.date)
            )
            card.add_widget(
                Text(
                    t(
                        "family.today.order_line",
                        when=when,
                        name=order.meal_set_name,
                        price=roubles(order.price),
                        status=order.status_name,
                    )
                )
            )
    account = found["account"]
    if account is not None:
        card.add_widget(Text(balance_lines(account)[0], bold=True))
        card.add_widget(
            Text(t("family.meals.held", sum=roubles(account.held)), font=theme.FONT_SMALL)
        )
