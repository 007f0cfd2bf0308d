"""From an outbox event to deliveries: fan-out, delivery with retries and fallback, digests,
receipts. The worker's jobs call into one `Pipeline` built from the settings.

Exactly-once where it can be had: a notification is unique per (event, person) and a delivery
per (event, person, channel) in the database, so a fan-out that runs twice creates nothing
twice, and a delivery job that runs again after its delivery was sent does nothing. A worker
killed in the middle of a send leaves the delivery "sending"; its retry sends again, unless
the send is on record (the provider answered) or, for push, the phone's app said it arrived
(`backend.messaging.services.confirm_push`). Only a message that reached a provider which gives
no word back (Telegram, or a phone without the app's receipt) may then go twice; push carries
a collapse tag so that the phone shows it once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time as _time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piccolo.columns import Column
from redis.asyncio import Redis
from saq import Job
from saq.queue import Queue

from backend.accounts.services import user_contacts
from backend.core.db import insert_rows, transaction
from backend.events import services as events
from backend.messaging.services import (
    PUSH_RECEIPTS_KEY,
    PUSHED_PREFIX,
    REPLAY_KIND,
    load_preferences,
    token_digest,
)
from backend.messaging.tables import Delivery, DeviceToken, Notification, TelegramChat
from backend.schools import contacts
from backend.settings import Settings
from notifications import templates
from notifications.channels.base import Channel, Outgoing, PermanentFailure, Sent, TemporaryFailure
from notifications.kinds import EMAIL, FALLBACK_ORDER, PUSH, SMS, TELEGRAM, Kind, kind_of
from notifications.pacing import Pacer, Rate
from notifications.preferences import SchoolPolicy, effective, next_digest, quiet_release

log = logging.getLogger("parta.notify")

RESET_KIND = "account.password_reset_code"
DONE = ("sent", "delivered", "failed", "skipped")
PENDING = ("queued", "waiting", "digest", "sending")
INBOX_CHANNEL = "parta:inbox:{}"
FOREIGN = (PUSH, TELEGRAM)  # services abroad
ANNOUNCEMENT = "announcement.created"
ENQUEUE_CHUNK = 500
SENDS_IN_FLIGHT = 64
# Deliveries due now go to the queue in jobs of this many (sent concurrently by one worker).
DELIVER_BATCH = 10
# A send that has not been answered in this time is given up as a temporary failure.
SEND_TIMEOUT = 20.0
# A send is on record in Redis as soon as the provider answered (`Pipeline._record`).
SENT_PREFIX = "parta:notify:sent:"
# Long enough for the job of a killed worker to come back (a heartbeat, or a retry's backoff of
# at most `notify_retry_max_seconds`), short enough that Redis holds only the last hour's sends.
SENT_RECORD_SECONDS = 3600
# When a send's request actually left (after its pacing and its turn among the sends in flight,
# which under a backlog may be long after it was marked "sending"): a later run that finds the
# delivery "sending" waits for its outcome counting from here.
LEFT_PREFIX = "parta:notify:left:"
# Seconds a running job may go untouched before the sweep takes its worker for dead (the
# worker touches its jobs every third of it: notifications.worker._alive).
JOB_HEARTBEAT = 6
NOTIFICATION_COLUMNS = (
    "event_id",
    "user_id",
    "student_id",
    "school_id",
    "kind",
    "title",
    "body",
    "urgent",
    "created_at",
)
DELIVERY_COLUMNS = (
    "notification_id",
    "event_id",
    "user_id",
    "school_id",
    "channel",
    "status",
    "reason",
    "attempts",
    "provider_id",
    "address",
    "parts",
    "dead",
    "scheduled_for",
    "created_at",
    "updated_at",
    "meta",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite may hand back a naive timestamp; it is UTC as written."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        queue: Queue,
        channels: dict[str, Channel],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = queue
        self.channels = channels
        self.clock = clock
        self.pacer = Pacer(redis, headroom=settings.notify_rate_headroom)
        # Sends in flight in this process: a worker runs many jobs of many deliveries each,
        # and past a few dozen concurrent sends more only adds contention.
        self.sending = asyncio.Semaphore(SENDS_IN_FLIGHT)
        self._policies: dict[int, tuple[float, SchoolPolicy, str]] = {}

    # ---- helpers -----------------------------------------------------------------------------

    def epoch(self, moment: datetime | None) -> int:
        """Queue time (real epoch seconds) for an instant of our clock (a test may move it)."""
        if moment is None:
            return 0
        ahead = (moment - self.clock()).total_seconds()
        return 0 if ahead <= 0 else math.ceil(_time.time() + ahead)

    async def policy(self, school_id: int | None) -> tuple[SchoolPolicy, str]:
        if school_id is None:
            return SchoolPolicy({}, self.settings.time_zone), ""
        cached = self._policies.get(school_id)
        if cached and cached[0] > _time.monotonic():
            return cached[1], cached[2]
        info = await contacts.school_info(school_id)
        policy = (
            SchoolPolicy.from_settings(info.settings, info.time_zone)
            if info
            else SchoolPolicy({}, self.settings.time_zone)
        )
        name = info.short_name if info else ""
        self._policies[school_id] = (_time.monotonic() + 30, policy, name)
        return policy, name

    def job(self, function: str, key: str, scheduled: int = 0, **kwargs: Any) -> Job:
        return Job(
            function=function,
            kwargs=kwargs,
            key=key,
            scheduled=scheduled,
            timeout=120,
            retries=5,  # a worker killed mid-job: the sweep runs it again
            heartbeat=JOB_HEARTBEAT,
            retry_delay=1.0,
            retry_backoff=30,
            ttl=24 * 3600,
        )

    async def enqueue(self, function: str, key: str, scheduled: int = 0, **kwargs: Any) -> None:
        await self.queue.enqueue(self.job(function, key, scheduled, **kwargs))

    async def enqueue_many(self, jobs: list[Job]) -> None:
        """Enqueue many jobs at once. SAQ 0.26 has no batch enqueue (each `enqueue` is one Lua
        call, and a job's key must be checked against the queue), so the calls run
        concurrently; the queue's own semaphore (`max_concurrent_ops`) bounds the connections
        they take. A job whose key the queue already holds is skipped by SAQ, as one by one."""
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            await asyncio.gather(
                *(self.queue.enqueue(job) for job in jobs[start : start + ENQUEUE_CHUNK])
            )

    def delivery_job(self, delivery_id: int, attempt: int, at: datetime | None) -> Job:
        return self.job(
            "deliver", f"deliver:{delivery_id}:{attempt}", self.epoch(at), delivery_id=delivery_id
        )

    def digest_job(self, user_id: int, channel: str, at: datetime, tag: str = "") -> Job:
        """The digest of one person on one channel at one instant. The key names the instant,
        not only the day: a person who moves the digest earlier the same day gets a job at the
        new time (a key of the day kept the first schedule of the day, and the queue skips a
        key it holds)."""
        moment = _aware(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return self.job(
            "digest",
            f"digest:{user_id}:{channel}:{moment}{tag}",
            self.epoch(at),
            user_id=user_id,
            channel=channel,
        )

    async def enqueue_delivery(self, delivery_id: int, attempt: int, at: datetime | None) -> None:
        await self.queue.enqueue(self.delivery_job(delivery_id, attempt, at))

    # ---- the relay ---------------------------------------------------------------------------

    async def relay_once(self) -> int:
        """Move one batch of unpublished outbox events to the queue, as fan-out jobs of up to
        `notify_fanout_batch` events each (an announcement alone: it is big on its own). The
        job key names its events: a relay that dies after enqueueing and before marking
        re-enqueues the same events, and the fan-out is idempotent whatever the grouping."""
        async with transaction():
            rows = await events.claim_unpublished(self.settings.notify_relay_batch)
            if not rows:
                return 0
            size = max(1, self.settings.notify_fanout_batch)
            groups: list[list[int]] = []
            small: list[int] = []
            for row in rows:
                if row["kind"] == ANNOUNCEMENT:
                    groups.append([row["id"]])
                    continue
                small.append(row["id"])
                if len(small) >= size:
                    groups.append(small)
                    small = []
            if small:
                groups.append(small)
            await self.enqueue_many(
                [self.job("fanout", f"fanout:{g[0]}:{g[-1]}", event_ids=g) for g in groups]
            )
            await events.mark_published([r["id"] for r in rows])
        return len(rows)

    # ---- fan-out -----------------------------------------------------------------------------

    async def recipients(
        self, work: list[tuple[dict[str, Any], Kind]], pupils: dict[int, contacts.Pupil]
    ) -> dict[int, list[contacts.Contact]]:
        """Who hears about each event, by event id: a few queries for the whole batch (one per
        role asked for, one per school with an announcement), none per person."""
        wanted: dict[str, set[int]] = {}
        schools: set[int] = set()
        for event, kind in work:
            if kind.name == ANNOUNCEMENT:
                if event["school_id"]:
                    schools.add(int(event["school_id"]))
            elif kind.name != RESET_KIND and event["student_id"]:
                for role in kind.audience:
                    wanted.setdefault(role, set()).add(event["student_id"])
        guardians = await contacts.guardians_of_many(wanted.get(contacts.GUARDIAN, ()))
        delegates = await contacts.delegates_of_many(wanted.get(contacts.DELEGATE, ()))
        teachers = await contacts.class_teachers_of(wanted.get(contacts.CLASS_TEACHER, ()))
        families = {s: await contacts.families_of_school(s) for s in schools}
        found: dict[int, list[contacts.Contact]] = {}
        for event, kind in work:
            people: list[contacts.Contact] = []
            student_id = event["student_id"]
            if kind.name == RESET_KIND:
                user_id = int(event["payload"].get("user_id") or 0)
                people = [contacts.Contact(user_id, "account", None)] if user_id else []
            elif kind.name == ANNOUNCEMENT:
                people = families.get(int(event["school_id"] or 0), [])
            elif student_id:
                if contacts.GUARDIAN in kind.audience:
                    people += guardians.get(student_id, [])
                if contacts.DELEGATE in kind.audience:
                    people += [
                        d
                        for d in delegates.get(student_id, [])
                        if not d.parts or kind.delegate_part in d.parts
                    ]
                pupil = pupils.get(student_id)
                if contacts.PUPIL in kind.audience and pupil and pupil.contact:
                    people.append(pupil.contact)
                teacher = teachers.get(student_id)
                if contacts.CLASS_TEACHER in kind.audience and teacher:
                    people.append(teacher)
            found[event["id"]] = people
        return found

    async def fanout(self, event_id: int) -> int:
        """Notifications and deliveries for one event; returns how many deliveries it queued."""
        return await self.fanout_many([event_id])

    async def fanout_many(self, event_ids: list[int]) -> int:
        """Notifications and deliveries for several events together, set-based: the events,
        pupils, recipients, consents, accounts and preferences in a handful of queries, the
        notifications and deliveries in bulk inserts, the deliveries due now in jobs of
        `DELIVER_BATCH`, enqueued concurrently. Returns how many deliveries it queued."""
        jobs: list[Job] = []
        count = 0  # deliveries queued (and replays)
        work: list[tuple[dict[str, Any], Kind]] = []
        for event in await events.load_many(event_ids):
            payload = event["payload"] = _json(event["payload"]) or {}
            if event["kind"] == REPLAY_KIND:
                delivery_id = int(payload.get("delivery_id") or 0)
                if delivery_id:
                    jobs.append(self.delivery_job(delivery_id, 1000 + event["id"], None))
                    count += 1
                continue
            kind = kind_of(event["kind"])
            if kind is None:
                continue
            event["school_id"] = event["school_id"] or payload.get("school_id")
            event["student_id"] = event["student_id"] or payload.get("student_id")
            work.append((event, kind))
        pupils = await contacts.pupils(e["student_id"] for e, _ in work if e["student_id"])
        for event, _ in work:
            pupil = pupils.get(event["student_id"] or 0)
            if event["school_id"] is None and pupil is not None:
                event["school_id"] = pupil.school_id
        found = await self.recipients(work, pupils)

        # One notification per person and event: the first role found wins (a guardian who is
        # also the class teacher hears once). An announcement names each family once.
        audience: dict[int, dict[int, contacts.Contact]] = {}
        for event, _ in work:
            unique: dict[int, contacts.Contact] = {}
            for person in found[event["id"]]:
                unique.setdefault(person.user_id, person)
            audience[event["id"]] = unique
        users = {u for unique in audience.values() for u in unique}
        students = {e["student_id"] for e, k in work if e["student_id"] and k.name != ANNOUNCEMENT}
        consent = await contacts.students_with_cross_border_consent(students)
        accounts = await user_contacts(users)
        prefs = await load_preferences(users)
        now = self.clock()

        note_rows: list[tuple[Any, ...]] = []
        plans: dict[tuple[int, int], list[tuple[str, str, datetime | None, dict[str, Any]]]] = {}
        for event, kind in work:
            payload, event_id, school_id = event["payload"], event["id"], event["school_id"]
            policy, school_name = await self.policy(school_id)
            urgent = kind.urgent or bool(payload.get("urgent"))
            for user_id, person in audience[event_id].items():
                account = accounts.get(user_id) or {}
                if account and not account.get("is_active", True):
                    continue
                sid = person.student_id if kind.name != ANNOUNCEMENT else None
                pupil = pupils.get(sid or 0)
                rendered = templates.render(
                    kind.name,
                    payload,
                    student=pupil.first_name if pupil else "",
                    sex=pupil.sex if pupil else "",
                    school=school_name,
                )
                note_rows.append(
                    (
                        event_id,
                        user_id,
                        sid,
                        school_id,
                        kind.name,
                        rendered.title,
                        rendered.text,
                        urgent,
                        now,
                    )
                )
                meta = {
                    "phone": person.phone or account.get("phone"),
                    "email": person.email or account.get("email"),
                    "consent": bool(sid and sid in consent),
                    "forbid": policy.forbid_cross_border,
                    "personal": kind.personal,
                }
                plans[(event_id, user_id)] = self.plan(
                    kind, payload, sid, prefs.get(user_id, []), policy, meta, now
                )

        done = [e["id"] for e, _ in work]
        notes: dict[tuple[int, int], int] = {}
        if note_rows:
            async with transaction():
                await insert_rows(Notification, NOTIFICATION_COLUMNS, note_rows)
                rows = await Notification.select(
                    Notification.id, Notification.event_id, Notification.user_id
                ).where(Notification.event_id.is_in(done))
                notes = {(r["event_id"], r["user_id"]): r["id"] for r in rows}
                schools = {e["id"]: e["school_id"] for e, _ in work}
                delivery_rows = [
                    (
                        notes[key],
                        key[0],
                        key[1],
                        schools[key[0]],
                        channel,
                        status,
                        "",
                        0,
                        "",
                        "",
                        0,
                        False,
                        at,
                        now,
                        now,
                        json.dumps(meta, ensure_ascii=False),
                    )
                    for key, plan in plans.items()
                    if key in notes
                    for channel, status, at, meta in plan
                ]
                await insert_rows(Delivery, DELIVERY_COLUMNS, delivery_rows)
            queued = (
                await Delivery.select(
                    Delivery.id,
                    Delivery.status,
                    Delivery.scheduled_for,
                    Delivery.user_id,
                    Delivery.channel,
                    Delivery.meta,
                )
                .where(Delivery.event_id.is_in(done) & Delivery.status.is_in(list(PENDING)))
                .order_by(Delivery.id)
            )
            count += len(queued)
            now_ids = [
                r["id"] for r in queued if r["status"] == "queued" and r["scheduled_for"] is None
            ]
            for start in range(0, len(now_ids), DELIVER_BATCH):
                batch = now_ids[start : start + DELIVER_BATCH]
                jobs.append(
                    self.job(
                        "deliver_many", f"deliver:{batch[0]}-{batch[-1]}:0", delivery_ids=batch
                    )
                )
            for row in queued:
                if row["status"] == "queued" and row["scheduled_for"] is None:
                    continue
                if row["status"] == "digest":
                    jobs.append(
                        self.digest_job(row["user_id"], row["channel"], row["scheduled_for"])
                    )
                else:
                    jobs.append(self.delivery_job(row["id"], 0, row["scheduled_for"]))
        await self.enqueue_many(jobs)
        if notes:
            kinds = {e["id"]: k.name for e, k in work}
            async with self.redis.pipeline(transaction=False) as pipe:
                for (event_id, user_id), notification_id in notes.items():
                    if kinds[event_id] != RESET_KIND:
                        pipe.publish(
                            INBOX_CHANNEL.format(user_id),
                            json.dumps({"id": notification_id, "kind": kinds[event_id]}),
                        )
                await pipe.execute()
        return count

    def plan(
        self,
        kind: Kind,
        payload: dict[str, Any],
        student_id: int | None,
        pref_rows: list[dict[str, Any]],
        policy: SchoolPolicy,
        meta: dict[str, Any],
        now: datetime,
    ) -> list[tuple[str, str, datetime | None, dict[str, Any]]]:
        """(channel, status, when, meta) of each delivery one person gets for one event."""
        if kind.name == RESET_KIND:
            first = str(payload.get("channel")) if payload.get("channel") in (SMS, EMAIL) else SMS
            order: list[str] = [first, EMAIL if first == SMS else SMS]
            return [(first, "queued", None, {**meta, "order": order})]
        pref = effective(pref_rows, kind.name, student_id, policy)
        if pref.muted:
            return []
        chosen: list[str] = list(pref.channels) or [PUSH]
        order = chosen + [
            c for c in FALLBACK_ORDER if c not in chosen and (c != SMS or policy.sms_fallback)
        ]
        urgent = kind.urgent or bool(payload.get("urgent"))
        base = {**meta, "order": order}
        if pref.mode == "digest" and not urgent:
            at, day = next_digest(now, policy.time_zone, pref.digest_at)
            return [(c, "digest", at, {**base, "day": day.isoformat()}) for c in chosen]
        release = (
            None if urgent else quiet_release(now, policy.time_zone, pref.quiet_from, pref.quiet_to)
        )
        status = "waiting" if release else "queued"
        return [(c, status, release, base) for c in chosen]

    # ---- delivery ----------------------------------------------------------------------------

    def full_text_allowed(self, channel: str, meta: dict[str, Any], address: str = "") -> bool:
        if not meta.get("personal", True) or channel == SMS:
            return True
        if channel == EMAIL:
            domain = address.rpartition("@")[2].lower()
            if domain not in self.settings.notify_foreign_email_domains:
                return True
        return bool(meta.get("consent")) and not meta.get("forbid")

    async def addresses(self, user_id: int, channel: str, meta: dict[str, Any]) -> tuple[str, ...]:
        if channel == PUSH:
            rows = await DeviceToken.select(DeviceToken.token).where(
                (DeviceToken.user_id == user_id) & DeviceToken.is_active.eq(True)
            )
            return tuple(r["token"] for r in rows)
        if channel == TELEGRAM:
            rows = (
                await TelegramChat.select(TelegramChat.chat_id)
                .where((TelegramChat.user_id == user_id) & TelegramChat.unlinked_at.is_null())
                .order_by(TelegramChat.id, ascending=False)
                .limit(1)
            )
            return tuple(str(r["chat_id"]) for r in rows)
        value = meta.get("email" if channel == EMAIL else "phone")
        return (value,) if value else ()

    async def addresses_many(
        self, wanted: set[tuple[int, str]]
    ) -> dict[tuple[int, str], tuple[str, ...]]:
        """Push tokens and Telegram chats of many people: one query per channel (the same
        choice as `addresses`: every active token, the latest linked chat)."""
        out: dict[tuple[int, str], tuple[str, ...]] = {}
        push = list({u for u, c in wanted if c == PUSH})
        if push:
            rows = await DeviceToken.select(DeviceToken.user_id, DeviceToken.token).where(
                DeviceToken.user_id.is_in(push) & DeviceToken.is_active.eq(True)
            )
            for r in rows:
                key = (r["user_id"], PUSH)
                out[key] = (*out.get(key, ()), r["token"])
        telegram = list({u for u, c in wanted if c == TELEGRAM})
        if telegram:
            rows = (
                await TelegramChat.select(TelegramChat.user_id, TelegramChat.chat_id)
                .where(TelegramChat.user_id.is_in(telegram) & TelegramChat.unlinked_at.is_null())
                .order_by(TelegramChat.id, ascending=False)
            )
            for r in rows:
                out.setdefault((r["user_id"], TELEGRAM), (str(r["chat_id"]),))
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
            elif channel == TELEGRAM:
                title, text = "", templates.t("notify.neutral.telegram")
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
        """The pacing of a send: its provider's limit, and for Telegram its chat's."""
        s = self.settings
        if channel == TELEGRAM:
            # Telegram counts in a sliding window and pauses a bot for one too many.
            rates = [Rate.per_second("telegram", s.notify_telegram_rate, strict=True)]
            if addresses:
                chat = f"telegram:chat:{addresses[0]}"
                rates.append(Rate.per_second(chat, s.notify_telegram_chat_rate, strict=True))
            return rates
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
        """Write a delivery's state; a delivery the phone confirmed stays "delivered"."""
        values["updated_at"] = utcnow()
        await Delivery.update({getattr(Delivery, k): v for k, v in values.items()}).where(
            (Delivery.id == delivery_id) & (Delivery.status != "delivered")
        )

    async def deliver(self, delivery_id: int) -> str:
        return (await self.deliver_many([delivery_id]))[0]

    async def deliver_many(self, delivery_ids: list[int]) -> list[str]:
        """Send several deliveries at once: their rows, notifications and addresses in three
        queries, the sends concurrent (each still waits for its own pacing slot). Each
        delivery keeps its own status, so a job run again skips what was sent. If one of them
        fails unexpectedly the job fails after the others are done, and its retry redoes
        only the unfinished ones."""
        rows = {r["id"]: r for r in await Delivery.select().where(Delivery.id.is_in(delivery_ids))}
        live = [r for r in rows.values() if r["status"] in ("queued", "waiting", "sending")]
        note_ids = list({r["notification_id"] for r in live})
        notes = (
            {n["id"]: n for n in await Notification.select().where(Notification.id.is_in(note_ids))}
            if note_ids
            else {}
        )
        # A delivery found "sending" whose send is on record went out before its worker died:
        # it is only written down, never sent again.
        recorded = await self._recorded([r["id"] for r in live if r["status"] == "sending"])
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
        confirmed = await self.receipts([r["id"] for r in orphans if r["channel"] == PUSH])
        left = await self._left([r["id"] for r in orphans])
        awaiting = {
            r["id"]: max(_aware(r["updated_at"]), left.get(r["id"], _EPOCH))
            + self._patience(r["channel"])
            for r in orphans
            if r["id"] not in confirmed
        }
        live = [r for r in live if r["id"] not in confirmed]
        addresses = await self.addresses_many(
            {(r["user_id"], r["channel"]) for r in live if r["channel"] in (PUSH, TELEGRAM)}
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
                r["channel"] not in (PUSH, TELEGRAM) or addresses.get((r["user_id"], r["channel"]))
            )
        ]
        marked = await self._claim(ready)
        taken = {r["id"] for r in ready} - marked

        async def one(delivery_id: int) -> str:
            row = rows.get(delivery_id)
            if row is None or row["status"] not in ("queued", "waiting", "sending"):
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

    async def _claim(self, rows: list[dict[str, Any]]) -> set[int]:
        """Mark these deliveries "sending", one more attempt each, but only those no other run
        changed since they were read (their status and attempts, the claim's version, are as
        read). Two runs may hold the same delivery: a fan-out run again after its worker died
        queues the deliveries still waiting in batches of other keys. Only one of them sends."""
        versions: dict[tuple[str, int], list[int]] = {}
        for r in rows:
            versions.setdefault((r["status"], r["attempts"]), []).append(r["id"])
        claimed: set[int] = set()
        now = utcnow()
        for (status, attempts), ids in versions.items():
            got = (
                await Delivery.update(
                    {
                        Delivery.status: "sending",
                        Delivery.attempts: attempts + 1,
                        Delivery.updated_at: now,
                    }
                )
                .where(
                    Delivery.id.is_in(ids)
                    & (Delivery.status == status)
                    & (Delivery.attempts == attempts)
                )
                .returning(Delivery.id)
            )
            claimed.update(g["id"] for g in got)
        return claimed

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
            if row["channel"] == PUSH and await self.receipts([delivery_id]):
                return None
            recorded = (await self._recorded([delivery_id])).get(delivery_id)
            if recorded is not None:
                if note is not None:
                    await self._sent(row, note, recorded, recorded.meta["address"])
                return None
            now = await Delivery.select().where(Delivery.id == delivery_id).first()
            if now is None or now["status"] != "sending" or now["attempts"] != row["attempts"]:
                return None
            if utcnow() < until:
                continue
            left = (await self._left([delivery_id])).get(delivery_id, _EPOCH)
            if left + self._patience(row["channel"]) <= until:
                return now
            until = left + self._patience(row["channel"])

    async def _left(self, delivery_ids: list[int]) -> dict[int, datetime]:
        """When the last request of each of these deliveries left, where one did."""
        if not delivery_ids:
            return {}
        values = await self.redis.mget([f"{LEFT_PREFIX}{i}" for i in delivery_ids])
        return {
            i: datetime.fromtimestamp(float(v), UTC)
            for i, v in zip(delivery_ids, values, strict=True)
            if v
        }

    async def receipts(self, delivery_ids: list[int]) -> set[int]:
        """Deliveries among these whose phone said the push arrived, its word not yet written
        down (`flush_receipts`)."""
        if not delivery_ids:
            return set()
        found = await self.redis.hmget(PUSH_RECEIPTS_KEY, [str(i) for i in delivery_ids])
        return {i for i, at in zip(delivery_ids, found, strict=True) if at}

    async def flush_receipts(self, limit: int = 2000) -> int:
        """Write the phones' receipts waiting in Redis to their deliveries as "delivered", in
        one statement (one commit) for up to `limit` of them, then forget them. Two workers
        flushing the same receipts write the same thing. `delivered_at` is the latest receipt
        of the batch: within the worker's flush interval of each one's own."""
        _, found = await self.redis.hscan(PUSH_RECEIPTS_KEY, 0, count=limit)
        waiting: dict[Any, Any] = found if isinstance(found, dict) else {}
        if not waiting:
            return 0
        ids = [int(k) for k in waiting]
        at = datetime.fromtimestamp(max(float(v) for v in waiting.values()), UTC)
        await Delivery.update(
            {Delivery.status: "delivered", Delivery.delivered_at: at, Delivery.updated_at: utcnow()}
        ).where(
            Delivery.id.is_in(ids) & (Delivery.channel == PUSH) & (Delivery.status != "skipped")
        )
        await self.redis.hdel(PUSH_RECEIPTS_KEY, *waiting.keys())
        return len(ids)

    @staticmethod
    def _reachable(row: dict[str, Any], known: dict[tuple[int, str], tuple[str, ...]]) -> bool:
        if row["channel"] in (PUSH, TELEGRAM):
            return bool(known.get((row["user_id"], row["channel"])))
        meta = _json(row["meta"]) or {}
        return bool(meta.get("email" if row["channel"] == EMAIL else "phone"))

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
            await self.enqueue_delivery(delivery_id, row["attempts"], row["scheduled_for"])
            return "not yet"
        meta = _json(row["meta"]) or {}
        if note is None:
            return "no notification"
        channel = self.channels.get(row["channel"])
        if channel is None:
            await self._set(delivery_id, status="skipped", reason="channel_unavailable")
            await self.fallback(row, meta)
            return "skipped"
        if row["channel"] in (PUSH, TELEGRAM):
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
        if not marked and not await self._claim([row]):
            return "taken by another run"
        try:
            async with self.sending:
                ticket = await self.pacer.enter(*rates)
                async with self.redis.pipeline(transaction=False) as notes:
                    notes.set(f"{LEFT_PREFIX}{delivery_id}", _time.time(), ex=SENT_RECORD_SECONDS)
                    if row["channel"] == PUSH:  # the devices whose receipt will be taken
                        devices = " ".join(token_digest(a) for a in addresses)
                        notes.set(f"{PUSHED_PREFIX}{delivery_id}", devices, ex=SENT_RECORD_SECONDS)
                    await notes.execute()
                try:
                    sent = await self._send(channel, message)
                except (TemporaryFailure, PermanentFailure):
                    await self.pacer.leave(ticket)
                    raise
            # The send is on record in Redis in the same round trip that gives its place
            # back, before anything else: a worker killed from here on leaves a record that
            # the next run finds, and the message is not sent again (`_recorded`).
            await self.pacer.leave(ticket, self._record(delivery_id, sent, addresses[0]))
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

    def _record(self, delivery_id: int, sent: Sent, address: str) -> tuple[str, str, int]:
        value = {
            "provider_id": sent.provider_id,
            "parts": sent.parts,
            "address": address,
            "gone": list(sent.gone),
        }
        return f"{SENT_PREFIX}{delivery_id}", json.dumps(value), SENT_RECORD_SECONDS

    async def _recorded(self, delivery_ids: list[int]) -> dict[int, Sent]:
        """Sends on record (`_record`) among deliveries found "sending": a worker sent them
        and died before their status was written."""
        if not delivery_ids:
            return {}
        values = await self.redis.mget([f"{SENT_PREFIX}{i}" for i in delivery_ids])
        found: dict[int, Sent] = {}
        for delivery_id, raw in zip(delivery_ids, values, strict=True):
            if raw:
                value = json.loads(raw)
                found[delivery_id] = Sent(
                    provider_id=value["provider_id"],
                    parts=value["parts"],
                    gone=tuple(value["gone"]),
                    meta={"address": value["address"]},
                )
        return found

    async def _sent(
        self, row: dict[str, Any], note: dict[str, Any], sent: Sent, address: str
    ) -> None:
        await self._switch_off(row["user_id"], row["channel"], sent.gone)
        now = utcnow()
        values: dict[Column | str, Any] = {
            Delivery.address: address[:300],
            Delivery.provider_id: sent.provider_id[:200],
            Delivery.parts: sent.parts,
            Delivery.sent_at: now,
            Delivery.reason: "",
            Delivery.updated_at: now,
        }
        changed = (
            await Delivery.update({Delivery.status: "sent", **values})
            .where((Delivery.id == row["id"]) & (Delivery.status != "delivered"))
            .returning(Delivery.id)
        )
        if not changed:  # the phone's receipt came before the provider's answer was written
            await Delivery.update(values).where(Delivery.id == row["id"])
        if note["kind"] == RESET_KIND:
            # The code has reached the person: keep no copy of it.
            await events.redact(note["event_id"], ("code", "text"))
            await Notification.update({Notification.body: ""}).where(Notification.id == note["id"])

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
        await self.enqueue_delivery(row["id"], attempts, at)
        return "retry"

    async def _switch_off(self, user_id: int, channel: str, gone: Iterable[str]) -> None:
        gone = list(gone)
        if not gone:
            return
        now = utcnow()
        if channel == PUSH:
            await DeviceToken.update(
                {
                    DeviceToken.is_active: False,
                    DeviceToken.disabled_at: now,
                    DeviceToken.disabled_reason: "unregistered",
                }
            ).where(DeviceToken.token.is_in(gone))
        elif channel == TELEGRAM:
            await TelegramChat.update(
                {TelegramChat.unlinked_at: now, TelegramChat.unlinked_reason: "blocked"}
            ).where(TelegramChat.chat_id.is_in([int(g) for g in gone]))

    async def fallback(self, row: dict[str, Any], meta: dict[str, Any]) -> None:
        """The next channel takes over when none of the notification's deliveries can."""
        others = await Delivery.select(Delivery.channel, Delivery.status).where(
            Delivery.notification_id == row["notification_id"]
        )
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
            now = utcnow()
            await Delivery.insert(
                Delivery(
                    notification_id=row["notification_id"],
                    event_id=row["event_id"],
                    user_id=row["user_id"],
                    school_id=row["school_id"],
                    channel=channel,
                    status="queued",
                    created_at=now,
                    updated_at=now,
                    meta={**meta, "fallback_from": row["channel"]},
                )
            ).on_conflict(action="DO NOTHING")
            new = (
                await Delivery.select(Delivery.id)
                .where(
                    (Delivery.event_id == row["event_id"])
                    & (Delivery.user_id == row["user_id"])
                    & (Delivery.channel == channel)
                )
                .first()
            )
            if new:
                await self.enqueue_delivery(new["id"], 0, None)
            return

    # ---- digests -----------------------------------------------------------------------------

    async def digest_fallback(self, rows: list[dict[str, Any]]) -> None:
        """A digest its channel cannot carry goes by the next channel, still as one digest:
        each gathered notification gets a delivery there (in the digest, due when this one
        was), unless another of its channels still carries it, and the next channel's digest
        runs now."""
        others: dict[int, list[dict[str, Any]]] = {}
        for o in await Delivery.select(
            Delivery.notification_id, Delivery.channel, Delivery.status
        ).where(Delivery.notification_id.is_in([r["notification_id"] for r in rows])):
            others.setdefault(o["notification_id"], []).append(o)
        now = utcnow()
        taken: set[str] = set()
        for row in rows:
            meta = _json(row["meta"]) or {}
            siblings = others.get(row["notification_id"], [])
            if any(
                o["status"] in ("sent", "delivered", *PENDING)
                for o in siblings
                if o["channel"] != row["channel"]
            ):
                continue
            used = {o["channel"] for o in siblings}
            following = next(
                (c for c in meta.get("order") or FALLBACK_ORDER if c not in used), None
            )
            if following is None:
                continue
            await Delivery.insert(
                Delivery(
                    notification_id=row["notification_id"],
                    event_id=row["event_id"],
                    user_id=row["user_id"],
                    school_id=row["school_id"],
                    channel=following,
                    status="digest",
                    scheduled_for=row["scheduled_for"],
                    created_at=now,
                    updated_at=now,
                    meta={**meta, "fallback_from": row["channel"]},
                )
            ).on_conflict(action="DO NOTHING")
            taken.add(following)
        for following in sorted(taken):
            tag = f":from-{rows[0]['channel']}"
            at = self.clock()  # now, as the queue counts it
            await self.queue.enqueue(self.digest_job(rows[0]["user_id"], following, at, tag))

    async def digest(self, user_id: int, channel_name: str) -> str:
        """Gather a person's waiting notifications on one channel into one message."""
        now = self.clock()
        rows = (
            await Delivery.select()
            .where(
                (Delivery.user_id == user_id)
                & (Delivery.channel == channel_name)
                & (Delivery.status == "digest")
                & (Delivery.scheduled_for <= now + timedelta(seconds=1))
            )
            .order_by(Delivery.id)
        )
        if not rows:
            return "empty"
        channel = self.channels.get(channel_name)
        meta = _json(rows[-1]["meta"]) or {}
        ids = [r["id"] for r in rows]
        if channel is None:
            await Delivery.update(
                {Delivery.status: "skipped", Delivery.reason: "channel_unavailable"}
            ).where(Delivery.id.is_in(ids))
            await self.digest_fallback(rows)
            return "skipped"
        notes = (
            await Notification.select()
            .where(Notification.id.is_in([r["notification_id"] for r in rows]))
            .order_by(Notification.id)
        )
        addresses = await self.addresses(user_id, channel_name, meta)
        if not addresses:
            await Delivery.update(
                {Delivery.status: "skipped", Delivery.reason: "no_address"}
            ).where(Delivery.id.is_in(ids))
            await self.digest_fallback(rows)
            return "skipped"
        day = date.fromisoformat(meta.get("day") or now.date().isoformat())
        full = all(
            self.full_text_allowed(channel_name, _json(r["meta"]) or {}, addresses[0]) for r in rows
        )
        title = templates.digest_title(day)
        lines = [n["body"] for n in notes] if full else []
        text = (
            templates.t("notify.digest.intro", date=day.strftime("%d.%m.%Y"))
            + "\n"
            + "\n".join(f"• {line}" for line in lines)
            if full
            else templates.t("notify.neutral.push_body")
        )
        message = Outgoing(
            delivery_id=ids[0],
            notification_id=notes[0]["id"],
            user_id=user_id,
            addresses=addresses,
            title=title,
            text=templates.email_plain(title, text, lines) if channel_name == EMAIL else text,
            html=templates.email_html(title, text, lines) if channel_name == EMAIL else "",
            data={"kind": "digest"},
        )
        rates = self.rates(channel_name, addresses)
        await self.pacer.acquire(*rates)
        ticket = await self.pacer.enter(*rates)
        try:
            sent = await self._send(channel, message)
        except TemporaryFailure:
            raise  # the queue retries the digest job
        except PermanentFailure as exc:
            await self._switch_off(user_id, channel_name, exc.gone)
            await Delivery.update(
                {Delivery.status: "failed", Delivery.reason: exc.reason[:300]}
            ).where(Delivery.id.is_in(ids))
            await self.digest_fallback(rows)
            return "failed"
        finally:
            await self.pacer.leave(ticket)
        await Delivery.update(
            {
                Delivery.status: "sent",
                Delivery.provider_id: sent.provider_id[:200],
                Delivery.sent_at: utcnow(),
                Delivery.attempts: Delivery.attempts + 1,
                Delivery.meta: {**meta, "digest_of": len(ids)},
            }
        ).where(Delivery.id.is_in(ids))
        return f"sent {len(ids)}"

    # ---- receipts and replays ----------------------------------------------------------------

    async def on_receipt(self, provider_id: str, state: str) -> None:
        """A delivery receipt from the SMS centre."""
        values: dict[Any, Any] = {Delivery.updated_at: utcnow()}
        if state == "delivered":
            values.update({Delivery.status: "delivered", Delivery.delivered_at: utcnow()})
        else:
            values.update({Delivery.status: "failed", Delivery.reason: f"receipt:{state}"})
        await Delivery.update(values).where(
            (Delivery.channel == SMS) & (Delivery.provider_id == provider_id)
        )
