"""The tablet's background sync: the outbox up through the journal's sync endpoint, the
server's sheets down into the store (decision 0700).

A batch is marked 'sending' before it leaves; an answer settles each operation (applied,
unchanged and repeat are done; a conflict waits for the teacher); no answer puts the batch
back to be sent again with the same operation ids, so the server applies each once however
often the network fails. An operation the server refuses as invalid is set aside with the
server's message, and the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec

from mobile.common.api import ApiClient, ApiError, SignedOut, Unreachable
from mobile.common.i18n import t
from mobile.common.models import (
    AttachmentOut,
    ClassAbsentInside,
    Lesson,
    LessonSheet,
    MarkHistory,
    Marking,
    Me,
    MyStaff,
    Page,
    SchoolClass,
    StudyGroup,
    SyncOp,
    SyncRequest,
    SyncResponse,
)
from mobile.teacher.store import Db

SOURCES = {
    "office": "conflict.source_office",
    "teacher": "conflict.source_teacher",
    "turnstile": "conflict.source_turnstile",
}


@dataclass
class Outcome:
    sent: int = 0
    applied: int = 0
    conflicts: int = 0
    rejected: int = 0
    offline: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class SyncEngine:
    def __init__(self, api: ApiClient, db: Db) -> None:
        self.api = api
        self.db = db
        self.online = True
        self.last_pull: float | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.listeners: list[Any] = []  # called with no arguments after each round

    # ------------------------------------------------------------------ down

    async def refresh_day(self, today: date, ahead: int = 7, behind: int = 7) -> None:
        """The teacher, the school's names, the lessons around today and the recent sheets."""
        store = self.db.store
        me = await self.api.get("/api/v1/accounts/me", Me)
        staff = [s for s in await self.api.get("/api/v1/me/staff", list[MyStaff]) if not s.left_on]
        if not staff:
            raise ApiError(403, "not_teacher", t("signin.not_teacher"))
        mine = staff[0]
        school = mine.school
        classes = await self.api.get(f"/api/v1/schools/{school}/classes", list[SchoolClass])
        groups = await self.api.get(f"/api/v1/schools/{school}/groups", list[StudyGroup])
        marking = await self.api.get(f"/api/v1/journal/schools/{school}/marking", Marking)
        names = {f"c{c.id}": c.name for c in classes} | {f"g{g.id}": g.name for g in groups}
        lessons: list[Lesson] = []
        offset = 0
        while True:
            page = await self.api.get(
                "/api/v1/me/lessons",
                Page[Lesson],
                {
                    "date_from": today - timedelta(days=behind),
                    "date_to": today + timedelta(days=ahead),
                    "limit": 500,
                    "offset": offset,
                },
            )
            lessons += page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        own_class = next((c for c in classes if c.class_teacher == mine.id), None)
        await self.db(store.put_lessons, lessons, names, mine.id)
        await self.db(store.put_meta, "me", {"name": me.display_name, "user_id": me.id})
        await self.db(
            store.put_meta,
            "staff",
            {"id": mine.id, "school": school, "school_name": mine.school_name},
        )
        await self.db(store.put_meta, "marking", msgspec.to_builtins(marking))
        await self.db(
            store.put_meta,
            "own_class",
            {"id": own_class.id, "name": own_class.name} if own_class else None,
        )
        for lesson in lessons:
            if lesson.date <= today and lesson.status != "cancelled":
                await self.pull_lesson(lesson.id)
        self.last_pull = time.time()
        await self.db(store.put_meta, "updated_at", self.last_pull)
        self.online = True

    async def pull_lesson(self, lesson_id: int) -> LessonSheet:
        sheet = await self.api.get(f"/api/v1/journal/lessons/{lesson_id}", LessonSheet)
        await self.db(self.db.store.merge_sheet, sheet)
        return sheet

    async def class_week(self, class_id: int, monday: date, today: date) -> dict[str, Any]:
        """The class's attendance from Monday to today: per pupil, per day, each lesson's
        status (the class teacher reads every lesson of the class, decision 0352)."""
        staff = await self.db(self.db.store.meta, "staff", {})
        last = min(today, monday + timedelta(days=5))
        page = await self.api.get(
            f"/api/v1/schools/{staff['school']}/lessons",
            Page[Lesson],
            {"date_from": monday, "date_to": last, "class_id": class_id, "limit": 500},
        )
        days = [(monday + timedelta(days=n)).isoformat() for n in range((last - monday).days + 1)]
        pupils: dict[int, dict[str, Any]] = {}
        lessons: dict[str, list[dict[str, Any]]] = {}  # each day's lessons, in order
        for lesson in sorted(page.items, key=lambda x: (x.date, x.lesson_number)):
            if lesson.status == "cancelled" or lesson.study_group is not None:
                continue
            day = lesson.date.isoformat()
            sheet = await self.api.get(f"/api/v1/journal/lessons/{lesson.id}", LessonSheet)
            lessons.setdefault(day, []).append(
                {"id": lesson.id, "number": lesson.lesson_number, "subject": lesson.subject_name}
            )
            status = {a.student_id: a.status for a in sheet.attendance}
            for p in sheet.pupils:
                row = pupils.setdefault(
                    p.id, {"id": p.id, "name": p.name, "days": {}, "lessons": {}}
                )
                row["days"].setdefault(day, []).append(status.get(p.id, "present"))
                row["lessons"][str(lesson.id)] = status.get(p.id, "present")
        return {
            "class_id": class_id,
            "days": days,
            "lessons": lessons,
            "pupils": sorted(pupils.values(), key=lambda r: r["name"]),
        }

    async def absent_inside(self, class_id: int, day: date) -> list[dict[str, Any]]:
        """The class's pupils marked absent in a begun lesson while the entry log says they
        were inside the building (access control's view for the class teacher)."""
        found = await self.api.get(
            f"/api/v1/access/classes/{class_id}/absent-inside", ClassAbsentInside, {"date": day}
        )
        return [msgspec.to_builtins(x) for x in found.items]

    # ------------------------------------------------------------------ up

    async def sync_lesson(self, lesson_id: int) -> Outcome:
        async with self._lock:
            return await self._sync_lesson(lesson_id)

    async def _sync_lesson(self, lesson_id: int) -> Outcome:
        store = self.db.store
        outcome = Outcome()
        started = time.perf_counter()
        while True:
            batch = await self.db(store.take_batch, lesson_id)
            if not batch:
                break
            lesson = await self.db(store.lesson, lesson_id)
            seqs = [op["seq"] for op in batch]
            try:
                ops = [await self._operation(op) for op in batch]
                answer = await self.api.post(
                    f"/api/v1/journal/lessons/{lesson_id}/sync",
                    SyncResponse,
                    SyncRequest(operations=ops, base_version=lesson["version"] if lesson else None),
                    idempotent=True,
                )
            except Unreachable as exc:
                await self.db(store.unsent, seqs, t("sync.offline"), exc.sent)
                self.online = False
                outcome.offline = True
                break
            except SignedOut:
                await self.db(store.unsent, seqs)
                raise
            except ApiError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                bad = details.get("op_id")
                if bad:
                    # One operation is refused: set it aside, send the others again.
                    await self.db(store.rejected, bad, exc.message)
                    await self.db(store.unsent, seqs)
                    outcome.rejected += 1
                    outcome.errors.append(exc.message)
                    continue
                for op in batch:
                    await self.db(store.rejected, op["op_id"], exc.message)
                outcome.rejected += len(batch)
                outcome.errors.append(exc.message)
                break
            self.online = True
            outcome.sent += len(batch)
            outcome.applied += answer.applied
            conflicts = await self.db(store.settle_results, lesson_id, answer.results)
            outcome.conflicts += len(conflicts)
            sheet = await self.pull_lesson(lesson_id)
            for c in conflicts:
                if c.changed_by is None:  # a server that does not name the author yet
                    await self._note_author(c.op_id, c.entity, c.id, sheet)
        outcome.seconds = time.perf_counter() - started
        return outcome

    async def _operation(self, op: dict[str, Any]) -> SyncOp:
        body = json.loads(op["body"])
        if op["file_path"]:
            attachment = op["attachment_id"]
            if attachment is None:
                path = Path(op["file_path"])
                uploaded = await self.api.upload(
                    f"/api/v1/journal/lessons/{op['lesson_id']}/attachments",
                    AttachmentOut,
                    path.name,
                    await asyncio.to_thread(path.read_bytes),
                )
                attachment = uploaded.id
                await self.db(self.db.store.set_attachment, op["seq"], attachment)
            body["attachment_ids"] = [attachment]
        return msgspec.convert(body, SyncOp)

    async def _note_author(
        self, op_id: str, entity: str, entity_id: int | None, sheet: LessonSheet
    ) -> None:
        """Who changed the cell on the server, and when, for the teacher to judge."""
        who, at = "", ""
        if entity == "mark" and entity_id is not None:
            try:
                history = await self.api.get(
                    f"/api/v1/journal/marks/{entity_id}/history", MarkHistory
                )
            except ApiError:
                history = None
            if history and history.changes:
                last = history.changes[-1]
                who = f"{last.by.name}, {last.by.role}"
                at = last.at.isoformat()
        elif entity == "attendance":
            record = next((a for a in sheet.attendance if a.id == entity_id), None)
            if record is not None:
                who = t(SOURCES.get(record.source, "conflict.source_office"))
        await self.db(self.db.store.note_conflict_author, op_id, who, at)

    async def sync_all(self) -> Outcome:
        total = Outcome()
        for lesson_id in await self.db(self.db.store.lessons_with_outbox):
            one = await self.sync_lesson(lesson_id)
            total.sent += one.sent
            total.applied += one.applied
            total.conflicts += one.conflicts
            total.rejected += one.rejected
            total.offline = total.offline or one.offline
            total.errors += one.errors
            if one.offline:
                break
        return total

    # ------------------------------------------------------------------ the loop

    def poke(self) -> None:
        """Something was written: sync soon."""
        self._wake.set()

    async def run(self, interval: float = 15.0, offline_interval: float = 5.0) -> None:
        """Sync whenever something is written, and every `interval` seconds anyway."""
        while True:
            if self.online:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
            else:
                # No server: a tap need not try again at once; look again every few seconds.
                await asyncio.sleep(offline_interval)
            self._wake.clear()
            try:
                await self.sync_all()
            except SignedOut:
                self.online = False
            except ApiError:
                pass
            for listener in list(self.listeners):
                listener()
