"""Delivery: one notification on one channel, sent with its provider's pacing, retried with
backoff on a temporary failure, handed to the next channel when this one cannot reach the
person. A delivery found "sending" (its worker died, or another run holds it) is sent again
only when neither its record nor, for push, the phone's receipt came in time.

Exactly-once where it can be had: a delivery job that runs again after its delivery was sent
does nothing; a worker killed in the middle of a send leaves the delivery "sending", and its
retry sends again unless the send is on record (the provider answered) or, for push, the
phone's app said it arrived (`backend.messaging.services.confirm_push`). Only a message that
reached a provider which gives no word back (Telegram, MAX, or a phone without the app's receipt)
may then go twice; push carries a collapse tag so that the phone shows it once.
"""

from __future__ import annotations

import asyncio
import random
import time as _time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from backend.core.batching import Coalescer
from backend.events import services as events
from backend.events.kinds import (
    EMAIL,
    FALLBACK_ORDER,
    MAX,
    MESSENGERS,
    PASSWORD_RESET_CODE,
    PUSH,
    SMS,
    TELEGRAM,
)
from backend.messaging import deliveries as records
from backend.messaging.deliveries import (
    LEFT_PREFIX,
    LIVE,
    PENDING,
    PUSHED_PREFIX,
    SENT_RECORD_SECONDS,
)
from backend.messaging.services import token_digest
from backend.settings import Settings
from notifications import templates
from notifications.channels.base import Channel, Outgoing, PermanentFailure, Sent, TemporaryFailure
from notifications.jobs import _EPOCH, Jobs, aware, loaded, utcnow
from notifications.pacing import Pacer, Rate
from notifications.receipts import Receipts

SENDS_IN_FLIGHT = 64
# A send that has not been answered in this time is given up as a temporary failure.
SEND_TIMEOUT = 20.0
RESET_KIND = PASSWORD_RESET_CODE


def messenger_rates(settings: Settings, messenger: str, chat: str | int | None) -> list[Rate]:
    """The pacing of a send to a messenger (Telegram, MAX): the bot's limit, and the chat's
    when it goes to one. Telegram and MAX count in a sliding window and refuse one too many
    (429). The family bot's own sends take the same keys: one limit, not two that add up."""
    bot_rate, chat_rate = (
        (settings.notify_telegram_rate, settings.notify_telegram_chat_rate)
        if messenger == TELEGRAM
        else (settings.notify_max_rate, settings.notify_max_chat_rate)
    )
    rates = [Rate.per_second(messenger, bot_rate, strict=True)]
    if chat is not None:
        rates.append(Rate.per_second(f"{messenger}:chat:{chat}", chat_rate, strict=True))
    return rates


class Sender:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        jobs: Jobs,
        channels: dict[str, Channel],
        pacer: Pacer,
        receipts: Receipts,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.jobs = jobs
        self.channels = channels
        self.pacer = pacer
        self.receipts = receipts
        self.clock = clock
        # Sends in flight in this process: a worker runs many jobs of many deliveries each,
        # and past a few dozen concurrent sends more only adds contention.
        self.sending = asyncio.Semaphore(SENDS_IN_FLIGHT)
        # Writes that many sends make at about the same moment go together: the notes in
        # Redis (when a request left, the devices a push went to, the record of a send) in
        # one round trip, the "sent" of the deliveries in one statement. Each send still
        # waits for its own write before it goes on (group commit, no added delay: a batch
        # is what came while the previous one was under way).
        self._notes: Coalescer[tuple[str, str, int], None] = Coalescer(
            self._write_notes, concurrency=2, max_batch=1000
        )
        self._sent_rows: Coalescer[tuple[int, str, str, int], None] = Coalescer(
            self._write_sent, concurrency=2, max_batch=500
        )

    async def _write_notes(self, notes: list[tuple[str, str, int]]) -> dict[Any, None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, value, seconds in notes:
                pipe.set(key, value, ex=seconds)
            await pipe.execute()
        return {}

    @staticmethod
    async def _write_sent(rows: list[tuple[int, str, str, int]]) -> dict[Any, None]:
        await records.mark_sent_many(rows)
        return {}

    async def note(self, *notes: tuple[str, str, int]) -> None:
        """Write these Redis notes (key, value, seconds to keep) before going on."""
        await asyncio.gather(*(self._notes.get(n) for n in notes))

    def full_text_allowed(self, channel: str, meta: dict[str, Any], address: str = "") -> bool:
        # SMS and MAX are services in Russia: the cross-border consent is not theirs to need
        # (decision 0605).
        if not meta.get("personal", True) or channel in (SMS, MAX):
            return True
        if channel == EMAIL:
            domain = address.rpartition("@")[2].lower()
            if domain not in self.settings.notify_foreign_email_domains:
                return True
        return bool(meta.get("consent")) and not meta.get("forbid")

    async def addresses(self, user_id: int, channel: str, meta: dict[str, Any]) -> tuple[str, ...]:
        if channel == PUSH:
            return (await records.push_tokens([user_id])).get(user_id, ())
        if channel in MESSENGERS:
            chat = (await records.messenger_chats(channel, [user_id])).get(user_id)
            return (chat,) if chat else ()
        value = meta.get("email" if channel == EMAIL else "phone")
        return (value,) if value else ()

    async def addresses_many(
        self, wanted: set[tuple[int, str]]
    ) -> dict[tuple[int, str], tuple[str, ...]]:
        """Push tokens and messenger chats (Telegram, MAX) of many people: one query per
        channel (the same choice as `addresses`: every active token, the latest linked chat)."""
        out: dict[tuple[int, str], tuple[str, ...]] = {}
        tokens = await records.push_tokens(u for u, c in wanted if c == PUSH)
        for user_id, found in tokens.items():
            out[(user_id, PUSH)] = found
        for messenger in MESSENGERS:
            users = [u for u, c in wanted if c == messenger]
            if not users:
                continue
            for user_id, chat in (await records.messenger_chats(messenger, users)).items():
                out[(user_id, messenger)] = (chat,)
        return out

    def outgoing(
        self,
        delivery: dict[str, Any],
        note: dict[str, Any],
        addresses: tuple[str, ...],
        meta: dict[str, Any],
    ) -> Outgoing:
        channel = delivery["channel"]
        full = self.full_text_allowed(channel, meta, addresses[0] if addresses else "")
        title, text = note["title"], note["body"]
        if not full:
            if channel == PUSH:
                title, text = (
                    templates.t("notify.neutral.push_title"),
                    templates.t("notify.neutral.push_body"),
                )
            elif channel in MESSENGERS:
                title, text = "", templates.t("notify.neutral.messenger")
            else:
                title = templates.t("notify.neutral.email_subject")
                text = templates.t("notify.neutral.email_body")
        if channel == PUSH:
            title = templates.clip(title, templates.PUSH_TITLE_LIMIT)
            text = templates.clip(text, templates.PUSH_BODY_LIMIT)
        html = templates.email_html(title, text) if channel == EMAIL else ""
        if channel == EMAIL:
            text = templates.email_plain(title, text)
        return Outgoing(
            delivery_id=delivery["id"],
            notification_id=note["id"],
            user_id=delivery["user_id"],
            addresses=addresses,
            title=title,
            text=text,
            html=html,
            urgent=note["urgent"],
            # A push says which delivery it is, for the app's receipt (`confirm_push`).
            data={
                "kind": note["kind"],
                **({"delivery_id": str(delivery["id"])} if channel == PUSH else {}),
            },
        )

    def rates(self, channel: str, addresses: tuple[str, ...]) -> list[Rate]:
        """The pacing of a send: its provider's limit, and for a messenger its chat's."""
        s = self.settings
        if channel in MESSENGERS:
            return messenger_rates(s, channel, addresses[0] if addresses else None)
        if channel == PUSH:
            return [Rate.per_second("fcm", s.notify_fcm_rate)]
        if channel == SMS:
            return [Rate.per_second("sms", s.notify_sms_rate)]
        return [Rate.per_second("email", s.notify_email_rate)]

    def backoff(self, attempt: int) -> float:
        base = self.settings.notify_retry_base_seconds
        ceiling = min(self.settings.notify_retry_max_seconds, base * 2 ** max(0, attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    async def _set(self, delivery_id: int, **values: Any) -> None:
        await records.set_state(delivery_id, **values)

    async def deliver(self, delivery_id: int) -> str:
        return (await self.deliver_many([delivery_id]))[0]

    async def deliver_many(self, delivery_ids: list[int]) -> list[str]:
        """Send several deliveries at once: their rows, notifications and addresses in three
        queries, the sends concurrent (each still waits for its own pacing slot). Each
        delivery keeps its own status, so a job run again skips what was sent. If one of them
        fails unexpectedly the job fails after the others are done, and its retry redoes
        only the unfinished ones."""
        rows = await records.deliveries(delivery_ids)
        live = [r for r in rows.values() if r["status"] in LIVE]
        notes = await records.notifications(list({r["notification_id"] for r in live}))
        # A delivery found "sending" whose send is on record went out before its worker died:
        # it is only written down, never sent again.
        recorded = await self.receipts.recorded([r["id"] for r in live if r["status"] == "sending"])
        for delivery_id, sent in recorded.items():
            note = notes.get(rows[delivery_id]["notification_id"])
            if note is not None:
                await self._sent(rows[delivery_id], note, sent, sent.meta["address"])
                rows[delivery_id] = {**rows[delivery_id], "status": "sent"}
        live = [r for r in live if r["id"] not in recorded]
        # A delivery found "sending" with nothing on record is another run's: one whose worker
        # died (its send may or may not have reached the provider), or one still at work. It
        # waits, counting from when its request left: a push for the phone's receipt (which
        # would have made it "delivered"; the app says so within a second or two of FCM handing
        # it the message), anything else for its sender's record, until the longest a send may
        # take. It goes again only if neither came (`_await_outcome`).
        orphans = [r for r in live if r["status"] == "sending"]
        confirmed = await self.receipts.receipts([r["id"] for r in orphans if r["channel"] == PUSH])
        left = await self.receipts.left([r["id"] for r in orphans])
        awaiting = {
            r["id"]: max(aware(r["updated_at"]), left.get(r["id"], _EPOCH))
            + self._patience(r["channel"])
            for r in orphans
            if r["id"] not in confirmed
        }
        live = [r for r in live if r["id"] not in confirmed]
        addresses = await self.addresses_many(
            {(r["user_id"], r["channel"]) for r in live if r["channel"] in (PUSH, *MESSENGERS)}
        )

        # The ones that will be sent now are claimed: marked "sending" unless another run
        # changed them since they were read.
        due = self.clock() + timedelta(seconds=1)
        ready = [
            r
            for r in live
            if r["id"] not in awaiting
            and (r["scheduled_for"] is None or r["scheduled_for"] <= due)
            and r["notification_id"] in notes
            and r["channel"] in self.channels
            and (
                r["channel"] not in (PUSH, *MESSENGERS)
                or addresses.get((r["user_id"], r["channel"]))
            )
        ]
        marked = await records.claim(ready)
        taken = {r["id"] for r in ready} - marked

        async def one(delivery_id: int) -> str:
            row = rows.get(delivery_id)
            if row is None or row["status"] not in LIVE:
                return "nothing to do"
            if delivery_id in confirmed:
                return "confirmed by the phone"
            if delivery_id in taken:
                return "taken by another run"
            note = notes.get(row["notification_id"])
            if delivery_id in awaiting:
                row = await self._await_outcome(row, note, awaiting[delivery_id])
                if row is None:
                    return "sent or confirmed by another run"
            return await self._deliver_row(row, note, addresses, delivery_id in marked)

        results = await asyncio.gather(*(one(i) for i in delivery_ids), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [str(r) for r in results]

    def _patience(self, channel: str) -> timedelta:
        """How long after its request left a send found "sending" may still prove to have
        arrived: a push by the phone's receipt, anything else by its sender's record."""
        if channel == PUSH:
            return timedelta(seconds=self.settings.notify_push_receipt_grace_seconds)
        return timedelta(seconds=SEND_TIMEOUT + 1)

    async def _await_outcome(
        self, row: dict[str, Any], note: dict[str, Any] | None, until: datetime
    ) -> dict[str, Any] | None:
        """Wait for the outcome of a send found in flight (see `deliver_many`): None when it
        arrived (a receipt or a record came; a record is written down here) or another run
        took the delivery on, else the row as it is now, to be sent again. A send that left
        again meanwhile (its run is alive, only slow) moves the wait on."""
        delivery_id = row["id"]
        while True:
            # Looked at every second: the word usually comes long before the wait is over.
            await asyncio.sleep(min(1.0, max(0.0, (until - utcnow()).total_seconds())))
            # Redis before the database: a receipt or record written down in between is in one.
            if row["channel"] == PUSH and await self.receipts.receipts([delivery_id]):
                return None
            recorded = (await self.receipts.recorded([delivery_id])).get(delivery_id)
            if recorded is not None:
                if note is not None:
                    await self._sent(row, note, recorded, recorded.meta["address"])
                return None
            now = await records.delivery(delivery_id)
            if now is None or now["status"] != "sending" or now["attempts"] != row["attempts"]:
                return None
            if utcnow() < until:
                continue
            left = (await self.receipts.left([delivery_id])).get(delivery_id, _EPOCH)
            if left + self._patience(row["channel"]) <= until:
                return now
            until = left + self._patience(row["channel"])

    async def _deliver_row(
        self,
        row: dict[str, Any],
        note: dict[str, Any] | None,
        known: dict[tuple[int, str], tuple[str, ...]],
        marked: bool = False,
    ) -> str:
        """One delivery; `marked`: already claimed (`_claim`) by this run."""
        delivery_id = row["id"]
        now = self.clock()
        if row["scheduled_for"] is not None and row["scheduled_for"] > now + timedelta(seconds=1):
            await self.jobs.enqueue_delivery(delivery_id, row["attempts"], row["scheduled_for"])
            return "not yet"
        meta = loaded(row["meta"]) or {}
        if note is None:
            return "no notification"
        channel = self.channels.get(row["channel"])
        if channel is None:
            await self._set(delivery_id, status="skipped", reason="channel_unavailable")
            await self.fallback(row, meta)
            return "skipped"
        if row["channel"] in (PUSH, *MESSENGERS):
            addresses = known.get((row["user_id"], row["channel"]), ())
        else:
            addresses = await self.addresses(row["user_id"], row["channel"], meta)
        if not addresses:
            await self._set(delivery_id, status="skipped", reason="no_address")
            await self.fallback(row, meta)
            return "skipped"
        message = self.outgoing(row, note, addresses, meta)
        rates = self.rates(row["channel"], addresses)
        await self.pacer.acquire(*rates)
        attempts = row["attempts"] + 1
        if not marked and not await records.claim([row]):
            return "taken by another run"
        try:
            async with self.sending:
                ticket = await self.pacer.enter(*rates)
                notes = [(f"{LEFT_PREFIX}{delivery_id}", repr(_time.time()), SENT_RECORD_SECONDS)]
                if row["channel"] == PUSH:  # the devices whose receipt will be taken
                    devices = " ".join(token_digest(a) for a in addresses)
                    notes.append((f"{PUSHED_PREFIX}{delivery_id}", devices, SENT_RECORD_SECONDS))
                await self.note(*notes)
                try:
                    sent = await self._send(channel, message)
                except (TemporaryFailure, PermanentFailure):
                    await self.pacer.leave(ticket)
                    raise
            # The send is on record in Redis before anything else (with a provider that counts
            # in a window, in the same round trip that gives its place back): a worker killed
            # from here on leaves a record that the next run finds, and the message is not
            # sent again (`Receipts.recorded`).
            record = self.receipts.record(delivery_id, sent, addresses[0])
            if ticket.keys:
                await self.pacer.leave(ticket, record)
            else:
                await self.note(record)
        except TemporaryFailure as exc:
            return await self._temporary(row, meta, attempts, exc, rates)
        except PermanentFailure as exc:
            await self._switch_off(row["user_id"], row["channel"], exc.gone)
            await self._set(
                delivery_id, status="failed", reason=exc.reason[:300], address=addresses[0][:300]
            )
            await self.fallback(row, meta)
            return "failed"
        await self._sent(row, note, sent, addresses[0])
        return "sent"

    @staticmethod
    async def _send(channel: Channel, message: Outgoing) -> Sent:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                return await channel.send(message)
        except TimeoutError as exc:
            raise TemporaryFailure(f"{channel.name}:timeout") from exc

    async def _sent(
        self, row: dict[str, Any], note: dict[str, Any], sent: Sent, address: str
    ) -> None:
        if sent.gone:
            await self._switch_off(row["user_id"], row["channel"], sent.gone)
        await self._sent_rows.get((row["id"], address[:300], sent.provider_id[:200], sent.parts))
        if note["kind"] == RESET_KIND:
            # The code has reached the person: keep no copy of it.
            await events.redact(note["event_id"], ("code", "text"))
            await records.blank_notification(note["id"])

    async def _temporary(
        self,
        row: dict[str, Any],
        meta: dict[str, Any],
        attempts: int,
        exc: TemporaryFailure,
        rates: list[Rate],
    ) -> str:
        if exc.retry_after:
            # The provider said when: everyone waits, and this one goes after the pause.
            await self.pacer.hold(rates[0].key, exc.retry_after)
            delay = exc.retry_after
            exhausted = attempts >= self.settings.notify_max_attempts * 3
        else:
            delay = self.backoff(attempts)
            exhausted = attempts >= self.settings.notify_max_attempts
        if exhausted:
            await self._set(row["id"], status="failed", reason=exc.reason[:300], dead=True)
            await self.fallback(row, meta)
            return "dead"
        at = self.clock() + timedelta(seconds=delay)
        await self._set(row["id"], status="queued", reason=exc.reason[:300], scheduled_for=at)
        await self.jobs.enqueue_delivery(row["id"], attempts, at)
        return "retry"

    async def _switch_off(self, user_id: int, channel: str, gone: Iterable[str]) -> None:
        await records.switch_off(channel, list(gone))

    async def fallback(self, row: dict[str, Any], meta: dict[str, Any]) -> None:
        """The next channel takes over when none of the notification's deliveries can."""
        others = (await records.siblings([row["notification_id"]])).get(row["notification_id"], [])
        if any(
            o["status"] in ("sent", "delivered", *PENDING)
            for o in others
            if o["channel"] != row["channel"]
        ):
            return
        used = {o["channel"] for o in others}
        for channel in meta.get("order") or FALLBACK_ORDER:
            if channel in used:
                continue
            new = await records.add(row, channel, {**meta, "fallback_from": row["channel"]})
            if new:
                await self.jobs.enqueue_delivery(new, 0, None)
            return
