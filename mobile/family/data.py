"""The family app's reads and actions: each read asks the server and keeps the answer in the
cache; without a network it answers from the cache with the time of that copy. Actions need
the server and say so in Russian when it cannot be reached."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from mobile.common.api import ApiClient, ApiError, Unreachable
from mobile.common.i18n import t
from mobile.common.models import (
    ChatLink,
    Delegate,
    DiaryMarks,
    DiaryNews,
    DiaryWeek,
    Done,
    FamilyChild,
    IllnessReport,
    InboxPage,
    Me,
    PersonalDataRead,
    Preference,
)
from mobile.common.models_meals import (
    MealOrder,
    Payment,
    PupilAccount,
    PupilBuffet,
    PupilMenu,
    StandingOrder,
    Statement,
    StudentEntries,
)
from mobile.family.cache import Cache

T = TypeVar("T")


class NeedsNetwork(ApiError):
    """An action the server must do, asked while it cannot be reached."""

    def __init__(self) -> None:
        super().__init__(0, "offline", t("family.offline.action"))


@dataclass
class Read(Generic[T]):
    """An answer and where it came from: `offline` when it is the phone's copy."""

    value: T
    fetched_at: float
    offline: bool


class NothingKept(Unreachable):
    """No network and no copy on the phone."""


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class FamilyData:
    def __init__(self, api: ApiClient, cache: Cache) -> None:
        self.api = api
        self.cache = cache
        self.offline = False  # the last read came from the phone's copy

    async def _read(
        self, key: str, path: str, type_: type[T], params: dict[str, Any] | None = None
    ) -> Read[T]:
        try:
            raw = await self.api.get(path, msgspec.Raw, params=params)
        except Unreachable:
            kept = self.cache.read(key)
            if kept is None:
                raise NothingKept() from None
            self.offline = True
            return Read(msgspec.json.decode(kept[0], type=type_), kept[1], True)
        body = bytes(raw)
        now = time.time()
        self.cache.keep(key, body, now)
        self.offline = False
        return Read(msgspec.json.decode(body, type=type_), now, False)

    def kept(self, key: str, type_: type[T]) -> Read[T] | None:
        """The phone's copy alone, drawn at once while the server is asked (not yet known to
        be offline)."""
        kept = self.cache.read(key)
        if kept is None:
            return None
        return Read(msgspec.json.decode(kept[0], type=type_), kept[1], False)

    # ------------------------------------------------------------------ reads

    async def me(self) -> Read[Me]:
        return await self._read("me", "/api/v1/accounts/me", Me)

    async def children(self) -> Read[list[FamilyChild]]:
        return await self._read("children", "/api/v1/family/children", list[FamilyChild])

    @staticmethod
    def week_key(student_id: int, day: date) -> str:
        return f"week:{student_id}:{monday(day).isoformat()}"

    async def week(self, student_id: int, day: date) -> Read[DiaryWeek]:
        return await self._read(
            self.week_key(student_id, day),
            f"/api/v1/diary/students/{student_id}/week",
            DiaryWeek,
            {"date": monday(day)},
        )

    async def marks(self, student_id: int) -> Read[DiaryMarks]:
        return await self._read(
            f"marks:{student_id}", f"/api/v1/diary/students/{student_id}/marks", DiaryMarks
        )

    async def news(self, student_id: int) -> Read[DiaryNews]:
        return await self._read(
            f"news:{student_id}", f"/api/v1/diary/students/{student_id}/news", DiaryNews
        )

    async def inbox(self) -> Read[InboxPage]:
        return await self._read("inbox", "/api/v1/messaging/inbox", InboxPage)

    async def preferences(self) -> Read[list[Preference]]:
        return await self._read("preferences", "/api/v1/messaging/preferences", list[Preference])

    async def delegates(self, student_id: int) -> Read[list[Delegate]]:
        return await self._read(
            f"delegates:{student_id}", f"/api/v1/students/{student_id}/delegates", list[Delegate]
        )

    async def viewers(self, student_id: int) -> Read[list[PersonalDataRead]]:
        class Reads(msgspec.Struct):
            items: list[PersonalDataRead]

        read = await self._read(
            f"viewers:{student_id}",
            f"/api/v1/audit/students/{student_id}/personal-data-reads",
            Reads,
        )
        return Read(read.value.items, read.fetched_at, read.offline)

    async def illness_reports(self, student_id: int) -> Read[list[IllnessReport]]:
        return await self._read(
            f"illness:{student_id}",
            f"/api/v1/diary/students/{student_id}/illness",
            list[IllnessReport],
        )

    # meals and entries (a guardian's, or a delegate's with those parts)

    async def entries(
        self, student_id: int, date_from: date, date_to: date
    ) -> Read[StudentEntries]:
        return await self._read(
            f"entries:{student_id}:{date_from.isoformat()}:{date_to.isoformat()}",
            f"/api/v1/access/students/{student_id}/entries",
            StudentEntries,
            {"date_from": date_from, "date_to": date_to},
        )

    async def menu(self, student_id: int, day: date) -> Read[PupilMenu]:
        return await self._read(
            f"menu:{student_id}:{day.isoformat()}",
            f"/api/v1/meals/pupils/{student_id}/menu",
            PupilMenu,
            {"date": day},
        )

    async def orders(
        self, student_id: int, date_from: date, date_to: date
    ) -> Read[list[MealOrder]]:
        return await self._read(
            f"orders:{student_id}:{date_from.isoformat()}:{date_to.isoformat()}",
            f"/api/v1/meals/pupils/{student_id}/orders",
            list[MealOrder],
            {"date_from": date_from, "date_to": date_to},
        )

    async def account(self, student_id: int) -> Read[PupilAccount]:
        return await self._read(
            f"account:{student_id}", f"/api/v1/meals/pupils/{student_id}/account", PupilAccount
        )

    async def statement(self, student_id: int) -> Read[Statement]:
        return await self._read(
            f"statement:{student_id}",
            f"/api/v1/meals/pupils/{student_id}/statement",
            Statement,
            {"limit": 50},
        )

    async def buffet(self, student_id: int) -> Read[PupilBuffet]:
        return await self._read(
            f"buffet:{student_id}", f"/api/v1/meals/pupils/{student_id}/buffet", PupilBuffet
        )

    async def mark_history(self, mark_id: int) -> list[dict[str, Any]]:
        class History(msgspec.Struct):
            changes: list[dict[str, Any]]

        history = await self._act("GET", f"/api/v1/journal/marks/{mark_id}/history", History)
        return list(history.changes)

    # ------------------------------------------------------------------ actions

    async def _act(self, method: str, path: str, type_: type[T] | None, **kw: Any) -> Any:
        try:
            return await self.api.request(method, path, type_, **kw)
        except Unreachable:
            raise NeedsNetwork() from None

    async def tick_homework(self, student_id: int, homework_id: int, done: bool) -> Done:
        answer: Done = await self._act(
            "POST",
            f"/api/v1/diary/students/{student_id}/homework/{homework_id}/done",
            Done,
            params={"done": "true" if done else "false"},
            idempotent=True,
        )
        return answer

    async def mark_seen(self, student_id: int) -> None:
        await self._act("POST", f"/api/v1/diary/students/{student_id}/seen", None, idempotent=True)

    async def read_inbox(self, ids: list[int] | None = None) -> None:
        body: dict[str, Any] = {"ids": ids} if ids else {"all": True}
        await self._act("POST", "/api/v1/messaging/inbox/read", None, json=body, idempotent=True)

    async def set_preference(self, rule: dict[str, Any]) -> None:
        await self._act("PUT", "/api/v1/messaging/preferences", None, json=rule, idempotent=True)

    async def grant_delegate(
        self, student_id: int, full_name: str, parts: list[str], valid_until: datetime, phone: str
    ) -> Delegate:
        body: dict[str, Any] = {
            "full_name": full_name,
            "parts": parts,
            "valid_until": valid_until.isoformat(),
        }
        if phone:
            body["phone"] = phone
        answer: Delegate = await self._act(
            "POST", f"/api/v1/students/{student_id}/delegates", Delegate, json=body
        )
        return answer

    async def report_illness(
        self, student_id: int, date_from: date, date_to: date, comment: str
    ) -> IllnessReport:
        answer: IllnessReport = await self._act(
            "POST",
            f"/api/v1/diary/students/{student_id}/illness",
            IllnessReport,
            json={"date_from": date_from, "date_to": date_to, "comment": comment},
        )
        return answer

    async def revoke_delegate(self, delegate_id: int) -> None:
        await self._act("POST", f"/api/v1/delegates/{delegate_id}/revoke", None, idempotent=True)

    async def order_meal(self, student_id: int, day: date, meal_set_id: int) -> MealOrder:
        """Not retried: a second order of the same meal would be refused, not doubled, but the
        person should see the first answer, not the refusal of a retry."""
        answer: MealOrder = await self._act(
            "POST",
            f"/api/v1/meals/pupils/{student_id}/orders",
            MealOrder,
            json={"date": day, "meal_set_id": meal_set_id},
        )
        return answer

    async def cancel_order(self, order_id: int) -> MealOrder:
        answer: MealOrder = await self._act(
            "POST", f"/api/v1/meals/orders/{order_id}/cancel", MealOrder
        )
        return answer

    async def top_up(
        self, student_id: int, amount: int, key: str, email: str, phone: str
    ) -> Payment:
        """A payment at the provider: its page is where the family pays. The same `key` (kept
        by the caller until an answer comes) never makes a second payment, so it is retried."""
        body: dict[str, Any] = {"amount": amount, "idempotency_key": key, "method": "bank_card"}
        body["receipt_email" if email else "receipt_phone"] = email or phone
        answer: Payment = await self._act(
            "POST",
            f"/api/v1/meals/pupils/{student_id}/top-ups",
            Payment,
            json=body,
            idempotent=True,
        )
        return answer

    async def payment(self, payment_id: int) -> Payment:
        answer: Payment = await self._act("GET", f"/api/v1/meals/payments/{payment_id}", Payment)
        return answer

    async def standing_orders(self, student_id: int) -> Read[list[StandingOrder]]:
        return await self._read(
            f"standing:{student_id}",
            f"/api/v1/meals/pupils/{student_id}/standing-orders",
            list[StandingOrder],
        )

    async def create_standing(self, student_id: int, meal_kind: str) -> StandingOrder:
        """«Каждый учебный день» (Monday to Friday) of one meal kind, from today."""
        answer: StandingOrder = await self._act(
            "POST",
            f"/api/v1/meals/pupils/{student_id}/standing-orders",
            StandingOrder,
            json={"meal_kind": meal_kind, "weekdays": [1, 2, 3, 4, 5]},
        )
        return answer

    async def cancel_standing(self, standing_id: int) -> StandingOrder:
        answer: StandingOrder = await self._act(
            "POST", f"/api/v1/meals/standing-orders/{standing_id}/cancel", StandingOrder
        )
        return answer

    async def set_buffet(
        self, student_id: int, daily_limit: int | None, stop_list: list[int]
    ) -> PupilBuffet:
        answer: PupilBuffet = await self._act(
            "PUT",
            f"/api/v1/meals/pupils/{student_id}/buffet",
            PupilBuffet,
            json={"daily_limit": daily_limit, "stop_list": stop_list},
            idempotent=True,
        )
        return answer

    async def chat_link(self, messenger: str) -> ChatLink:
        """A one-time code for the bot (each call a new one: the old one simply expires)."""
        answer: ChatLink = await self._act(
            "POST", "/api/v1/messaging/chat-links", ChatLink, json={"messenger": messenger}
        )
        return answer

    async def confirm_push(self, delivery_id: int, token: str) -> None:
        """A push reached the phone: tell the server (the receipt the notifications expect)."""
        await self._act(
            "POST",
            "/api/v1/messaging/push-receipts",
            None,
            json={"delivery_id": delivery_id, "token": token},
            idempotent=True,
            auth=False,  # the device token is the proof (decision 0502): no session needed
        )
