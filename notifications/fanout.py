"""Fan-out: from outbox events to notifications and deliveries. Who hears (guardians,
delegates, the pupil, the class teacher; every family for an announcement), what each person
wants (preferences, quiet hours, digests) and the jobs that send the deliveries due now."""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from saq import Job

from backend.accounts.services import user_contacts
from backend.events import services as events
from backend.events.kinds import (
    ANNOUNCEMENT_CREATED,
    DELIVERY_REPLAY,
    EMAIL,
    FALLBACK_ORDER,
    OPT_IN,
    PASSWORD_RESET_CODE,
    PUSH,
    SMS,
)
from backend.messaging import deliveries as records
from backend.messaging.deliveries import INBOX_CHANNEL, Plan
from backend.messaging.services import load_preferences
from backend.schools.people import consent as cross_border
from backend.schools.people import contacts
from backend.settings import Settings
from notifications import templates
from notifications.jobs import Jobs, loaded, utcnow
from notifications.kinds import Kind, kind_of
from notifications.preferences import SchoolPolicy, effective, next_digest, quiet_release

ANNOUNCEMENT = ANNOUNCEMENT_CREATED
RESET_KIND = PASSWORD_RESET_CODE
# Deliveries due now go to the queue in jobs of this many (sent concurrently by one worker).
DELIVER_BATCH = 25


class Fanout:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        jobs: Jobs,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.jobs = jobs
        self.clock = clock
        self._policies: dict[int, tuple[float, SchoolPolicy, str]] = {}

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

    async def recipients(
        self, work: list[tuple[dict[str, Any], Kind]], pupils: dict[int, contacts.Pupil]
    ) -> dict[int, list[contacts.Contact]]:
        """Who hears about each event, by event id: a few queries for the whole batch (one per
        role asked for, one per school or class with an announcement), none per person."""
        wanted: dict[str, set[int]] = {}
        schools: set[int] = set()
        announced_classes: set[int] = set()
        for event, kind in work:
            if kind.name == ANNOUNCEMENT:
                if event["payload"].get("class_id"):
                    announced_classes.add(int(event["payload"]["class_id"]))
                elif event["school_id"]:
                    schools.add(int(event["school_id"]))
            elif kind.name != RESET_KIND and event["student_id"]:
                for role in kind.audience:
                    wanted.setdefault(role, set()).add(event["student_id"])
        guardians = await contacts.guardians_of_many(wanted.get(contacts.GUARDIAN, ()))
        delegates = await contacts.delegates_of_many(wanted.get(contacts.DELEGATE, ()))
        teachers = await contacts.class_teachers_of(wanted.get(contacts.CLASS_TEACHER, ()))
        families = {s: await contacts.families_of_school(s) for s in schools}
        class_families = {c: await contacts.families_of_class(c) for c in announced_classes}
        guard_schools = {
            int(event["school_id"])
            for event, kind in work
            if contacts.SECURITY in kind.audience and event["school_id"]
        }
        security = {s: await contacts.security_of_school(s) for s in guard_schools}
        found: dict[int, list[contacts.Contact]] = {}
        for event, kind in work:
            people: list[contacts.Contact] = []
            student_id = event["student_id"]
            if kind.name == RESET_KIND:
                user_id = int(event["payload"].get("user_id") or 0)
                people = [contacts.Contact(user_id, "account", None)] if user_id else []
            elif kind.name == ANNOUNCEMENT and event["payload"].get("class_id"):
                people = class_families.get(int(event["payload"]["class_id"]), [])
            elif kind.name == ANNOUNCEMENT:
                people = families.get(int(event["school_id"] or 0), [])
            elif contacts.SECURITY in kind.audience:
                people = security.get(int(event["school_id"] or 0), [])
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
            payload = event["payload"] = loaded(event["payload"]) or {}
            if event["kind"] == DELIVERY_REPLAY:
                delivery_id = int(payload.get("delivery_id") or 0)
                if delivery_id:
                    jobs.append(self.jobs.delivery_job(delivery_id, 1000 + event["id"], None))
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
        # The one rule of data abroad (decision 0620): live consent, and the school allows it.
        consent = await cross_border.cross_border_allowed(students)
        accounts = await user_contacts(users)
        prefs = await load_preferences(users)
        now = self.clock()

        note_rows: list[tuple[Any, ...]] = []
        plans: dict[tuple[int, int], Plan] = {}
        for event, kind in work:
            payload, event_id, school_id = event["payload"], event["id"], event["school_id"]
            policy, school_name = await self.policy(school_id)
            urgent = kind.urgent or bool(payload.get("urgent"))
            for user_id, person in audience[event_id].items():
                account = accounts.get(user_id) or {}
                if account and not account.get("is_active", True):
                    continue
                sid = person.student_id if kind.name != ANNOUNCEMENT else None
                if (
                    kind.name in OPT_IN
                    and effective(prefs.get(user_id, []), kind.name, sid, policy).muted
                ):
                    continue  # not asked for: not even in the inbox
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
            schools = {e["id"]: e["school_id"] for e, _ in work}
            notes = await records.create(note_rows, plans, schools, now)
            queued = await records.pending_of_events(done)
            count += len(queued)
            now_ids = [
                r["id"] for r in queued if r["status"] == "queued" and r["scheduled_for"] is None
            ]
            for start in range(0, len(now_ids), DELIVER_BATCH):
                jobs.append(self.jobs.deliveries_job(now_ids[start : start + DELIVER_BATCH]))
            for row in queued:
                if row["status"] == "queued" and row["scheduled_for"] is None:
                    continue
                if row["status"] == "digest":
                    jobs.append(
                        self.jobs.digest_job(row["user_id"], row["channel"], row["scheduled_for"])
                    )
                else:
                    jobs.append(self.jobs.delivery_job(row["id"], 0, row["scheduled_for"]))
        await self.jobs.enqueue_many(jobs)
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
    ) -> Plan:
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
