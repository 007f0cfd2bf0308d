# Over 600 lines: the one source of truth; its merge, outbox and conflict rules share transactions.
"""The tablet's own database: what the teacher sees and every action not yet on the server.

Offline first: an action (a tap on a pupil, a mark, the topic, homework) writes the cell's row
and its outbox operation (with a client id made once, here) in one SQLite transaction, before
anything goes over the network. The sync engine (`sync.py`) sends the outbox through the
journal's sync endpoint and merges the server's sheet back, never over a cell that still has
an operation waiting. Cells: `att:<pupil>`, `mark:<client id>`, `topic`, `hw:<local id>`.

An operation not yet sent is replaced by the next action on the same cell (absent -> late
sends one operation, and a cell tapped back to its server value sends none), so families get
no notice of a tap the teacher took back before it left the tablet. Undo is an action too.

Calls are synchronous and short; the app runs them on one worker thread (`Db`), never on the
UI thread.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from mobile.common.models import Lesson, LessonSheet, OpResult

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lesson (
    id INTEGER PRIMARY KEY, date TEXT NOT NULL, number INTEGER NOT NULL,
    starts TEXT, ends TEXT, subject_id INTEGER, subject TEXT NOT NULL,
    class_id INTEGER, group_id INTEGER, group_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL, replacement INTEGER NOT NULL DEFAULT 0,
    topic TEXT NOT NULL DEFAULT '', server_topic TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 0, scale TEXT, attendance_taken INTEGER,
    sheet_loaded_at REAL, homework TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS lesson_date ON lesson(date, number);
CREATE TABLE IF NOT EXISTS pupil (
    lesson_id INTEGER NOT NULL, student_id INTEGER NOT NULL, name TEXT NOT NULL,
    pos INTEGER NOT NULL, PRIMARY KEY (lesson_id, student_id)
);
CREATE TABLE IF NOT EXISTS attendance (
    lesson_id INTEGER NOT NULL, student_id INTEGER NOT NULL,
    status TEXT NOT NULL, late_minutes INTEGER,
    server_id INTEGER, server_version INTEGER NOT NULL DEFAULT 0,
    server_status TEXT NOT NULL DEFAULT 'present', server_late INTEGER,
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (lesson_id, student_id)
);
CREATE TABLE IF NOT EXISTS mark (
    client_id TEXT PRIMARY KEY, lesson_id INTEGER NOT NULL, student_id INTEGER NOT NULL,
    value TEXT NOT NULL, work_kind TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0, server_id INTEGER,
    server_version INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mark_lesson ON mark(lesson_id, student_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL UNIQUE,
    lesson_id INTEGER NOT NULL, cell TEXT NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
    file_path TEXT, attachment_id INTEGER,
    maybe_sent INTEGER NOT NULL DEFAULT 0  -- it may have reached the server: never drop it
);
CREATE INDEX IF NOT EXISTS outbox_lesson ON outbox(lesson_id, state);
CREATE TABLE IF NOT EXISTS conflict (
    op_id TEXT PRIMARY KEY, lesson_id INTEGER NOT NULL, cell TEXT NOT NULL,
    entity TEXT NOT NULL, entity_id INTEGER, server_version INTEGER,
    server TEXT, client TEXT, who TEXT NOT NULL DEFAULT '', at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS undo (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, lesson_id INTEGER NOT NULL,
    action TEXT NOT NULL, args TEXT NOT NULL
);
"""

# Sync states of a cell, as the screens show them.
LOCAL, SENDING, SYNCED, FAILED, CONFLICT = "local", "sending", "synced", "failed", "conflict"
_OP_STATE = {"pending": LOCAL, "sending": SENDING, "rejected": FAILED, "conflict": CONFLICT}
_WORST = [SYNCED, SENDING, LOCAL, FAILED, CONFLICT]


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Cell:
    """One pupil's row on the lesson screen."""

    student_id: int
    name: str
    status: str
    late_minutes: int | None
    marks: list[dict[str, Any]]
    state: str


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives an app killed at any moment (only a power cut may lose
        # the last commits); a tap must not wait for the disk's flush.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        # Operations caught in flight by a crash are sent again; their ids make that safe.
        with self.tx():
            self.db.execute("UPDATE outbox SET state='pending', maybe_sent=1 WHERE state='sending'")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ meta

    def put_meta(self, key: str, value: Any) -> None:
        with self.tx():
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # ------------------------------------------------------------------ lessons and sheets

    def put_lessons(self, lessons: list[Lesson], groups: dict[str, str], my_staff: int) -> None:
        """The timetable's lessons of a range; a lesson's local state stays as it is."""
        with self.tx():
            for x in lessons:
                key = f"c{x.school_class}" if x.school_class else f"g{x.study_group}"
                self.db.execute(
                    """INSERT INTO lesson(id, date, number, starts, ends, subject_id, subject,
                        class_id, group_id, group_name, status, replacement, topic, server_topic,
                        version)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                    ON CONFLICT(id) DO UPDATE SET date=excluded.date, number=excluded.number,
                        starts=excluded.starts, ends=excluded.ends, subject=excluded.subject,
                        group_name=excluded.group_name, status=excluded.status,
                        replacement=excluded.replacement""",
                    (
                        x.id,
                        x.date.isoformat(),
                        x.lesson_number,
                        x.starts_at.strftime("%H:%M") if x.starts_at else None,
                        x.ends_at.strftime("%H:%M") if x.ends_at else None,
                        x.subject,
                        x.subject_name,
                        x.school_class,
                        x.study_group,
                        groups.get(key, ""),
                        x.status,
                        int(x.replacement_teacher == my_staff and x.teacher != my_staff),
                        x.topic,
                        x.topic,
                        x.version,
                    ),
                )

    def lessons_between(self, first: date, last: date) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM lesson WHERE date BETWEEN ? AND ? ORDER BY date, number",
            (first.isoformat(), last.isoformat()),
        ).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["sync"] = self.lesson_state(row["id"])
            out.append(item)
        return out

    def lesson(self, lesson_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM lesson WHERE id=?", (lesson_id,)).fetchone()
        return dict(row) if row else None

    def merge_sheet(self, sheet: LessonSheet) -> None:
        """The server's sheet comes down. A cell with an operation still on the tablet keeps
        the teacher's value (and the version it was edited at, for the conflict check)."""
        with self.tx():
            busy = {
                r[0]
                for r in self.db.execute(
                    "SELECT cell FROM outbox WHERE lesson_id=?", (sheet.id,)
                ).fetchall()
            }
            topic_busy = "topic" in busy
            self.db.execute(
                """UPDATE lesson SET version=?, scale=?, status=?, attendance_taken=?,
                    sheet_loaded_at=?, server_topic=?, topic=CASE WHEN ? THEN topic ELSE ? END,
                    homework=?
                WHERE id=?""",
                (
                    sheet.version,
                    sheet.scale,
                    sheet.status,
                    int(sheet.attendance_taken),
                    time.time(),
                    sheet.topic,
                    topic_busy,
                    sheet.topic,
                    json.dumps(
                        [
                            {
                                "id": h.id,
                                "text": h.text,
                                "due_date": _iso(h.due_date),
                                "version": h.version,
                                "files": len(h.attachments),
                            }
                            for h in sheet.homework
                        ]
                    ),
                    sheet.id,
                ),
            )
            if self.db.execute("SELECT changes()").fetchone()[0] == 0:
                self.db.execute(
                    """INSERT INTO lesson(id, date, number, subject_id, subject, class_id,
                        group_id, status, topic, server_topic, version, scale, attendance_taken,
                        sheet_loaded_at)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        sheet.id,
                        sheet.date.isoformat(),
                        sheet.lesson_number,
                        sheet.subject_id,
                        sheet.subject,
                        sheet.class_id,
                        sheet.group_id,
                        sheet.status,
                        sheet.topic,
                        sheet.topic,
                        sheet.version,
                        sheet.scale,
                        int(sheet.attendance_taken),
                        time.time(),
                    ),
                )
            self.db.execute("DELETE FROM pupil WHERE lesson_id=?", (sheet.id,))
            self.db.executemany(
                "INSERT INTO pupil(lesson_id, student_id, name, pos) VALUES (?,?,?,?)",
                [(sheet.id, p.id, p.name, n) for n, p in enumerate(sheet.pupils)],
            )
            records = {a.student_id: a for a in sheet.attendance}
            for p in sheet.pupils:
                if f"att:{p.id}" in busy:
                    continue
                a = records.get(p.id)
                status = a.status if a else "present"
                late = a.late_minutes if a else None
                self.db.execute(
                    """INSERT OR REPLACE INTO attendance(lesson_id, student_id, status,
                        late_minutes, server_id, server_version, server_status, server_late,
                        source)
                    VALUES (?,?,?,?,?,?,?,?,?)""",
                    (
                        sheet.id,
                        p.id,
                        status,
                        late,
                        a.id if a else None,
                        a.version if a else 0,
                        status,
                        late,
                        a.source if a else "",
                    ),
                )
            local = {
                r["client_id"]: dict(r)
                for r in self.db.execute(
                    "SELECT * FROM mark WHERE lesson_id=?", (sheet.id,)
                ).fetchall()
            }
            by_server = {m["server_id"]: k for k, m in local.items() if m["server_id"]}
            seen: set[str] = set()
            for m in sheet.marks:
                key = by_server.get(m.id) or (m.client_id if m.client_id in local else None)
                key = key or f"srv-{m.id}"
                seen.add(key)
                if f"mark:{key}" in busy:
                    continue
                self.db.execute(
                    """INSERT OR REPLACE INTO mark(client_id, lesson_id, student_id, value,
                        work_kind, comment, deleted, server_id, server_version, created)
                    VALUES (?,?,?,?,?,?,0,?,?,COALESCE((SELECT created FROM mark
                        WHERE client_id=?), ?))""",
                    (
                        key,
                        sheet.id,
                        m.student_id,
                        m.value,
                        m.work_kind,
                        m.comment,
                        m.id,
                        m.version,
                        key,
                        time.time(),
                    ),
                )
            for key in set(local) - seen:
                if f"mark:{key}" not in busy:
                    self.db.execute("DELETE FROM mark WHERE client_id=?", (key,))

    def has_sheet(self, lesson_id: int) -> bool:
        row = self.db.execute(
            "SELECT sheet_loaded_at FROM lesson WHERE id=?", (lesson_id,)
        ).fetchone()
        return bool(row and row[0])

    def roster(self, lesson_id: int) -> list[Cell]:
        states = self._cell_states(lesson_id)
        marks: dict[int, list[dict[str, Any]]] = {}
        for m in self.db.execute(
            "SELECT * FROM mark WHERE lesson_id=? AND deleted=0 ORDER BY created", (lesson_id,)
        ).fetchall():
            item = dict(m)
            item["state"] = states.get(f"mark:{m['client_id']}", SYNCED)
            marks.setdefault(m["student_id"], []).append(item)
        cells = []
        for row in self.db.execute(
            """SELECT p.student_id, p.name, a.status, a.late_minutes FROM pupil p
            LEFT JOIN attendance a ON a.lesson_id=p.lesson_id AND a.student_id=p.student_id
            WHERE p.lesson_id=? ORDER BY p.pos""",
            (lesson_id,),
        ).fetchall():
            sid = row["student_id"]
            own = [states.get(f"att:{sid}", SYNCED)] + [m["state"] for m in marks.get(sid, [])]
            cells.append(
                Cell(
                    sid,
                    row["name"],
                    row["status"] or "present",
                    row["late_minutes"],
                    marks.get(sid, []),
                    _worst(own),
                )
            )
        return cells

    def cell(self, lesson_id: int, student_id: int) -> Cell | None:
        """One pupil's row, for redrawing the cell just tapped (cheaper than the roster)."""
        row = self.db.execute(
            """SELECT p.student_id, p.name, a.status, a.late_minutes FROM pupil p
            LEFT JOIN attendance a ON a.lesson_id=p.lesson_id AND a.student_id=p.student_id
            WHERE p.lesson_id=? AND p.student_id=?""",
            (lesson_id, student_id),
        ).fetchone()
        if row is None:
            return None
        marks = [dict(m) for m in self.db.execute(
            """SELECT * FROM mark WHERE lesson_id=? AND student_id=? AND deleted=0
            ORDER BY created""",
            (lesson_id, student_id),
        ).fetchall()]  # fmt: skip
        cells = [f"att:{student_id}"] + [f"mark:{m['client_id']}" for m in marks]
        states: dict[str, str] = {}
        for cell, state in self.db.execute(
            f"""SELECT cell, state FROM outbox WHERE lesson_id=? AND cell IN
            ({",".join("?" * len(cells))})""",  # noqa: S608 - placeholders only
            (lesson_id, *cells),
        ).fetchall():
            states[cell] = _worst([states.get(cell, SYNCED), _OP_STATE[state]])
        for m in marks:
            m["state"] = states.get(f"mark:{m['client_id']}", SYNCED)
        return Cell(
            student_id,
            row["name"],
            row["status"] or "present",
            row["late_minutes"],
            marks,
            _worst([states.get(f"att:{student_id}", SYNCED)] + [m["state"] for m in marks]),
        )

    def _cell_states(self, lesson_id: int) -> dict[str, str]:
        states: dict[str, str] = {}
        for cell, state in self.db.execute(
            "SELECT cell, state FROM outbox WHERE lesson_id=? ORDER BY seq", (lesson_id,)
        ).fetchall():
            states[cell] = _worst([states.get(cell, SYNCED), _OP_STATE[state]])
        return states

    def lesson_state(self, lesson_id: int) -> str:
        return _worst(list(self._cell_states(lesson_id).values()))

    def pending_count(self, lesson_id: int | None = None) -> int:
        if lesson_id is None:
            return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        return int(
            self.db.execute(
                "SELECT count(*) FROM outbox WHERE lesson_id=?", (lesson_id,)
            ).fetchone()[0]
        )

    def lessons_with_outbox(self) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT lesson_id FROM outbox WHERE state='pending' ORDER BY lesson_id"
            ).fetchall()
        ]

    # ------------------------------------------------------------------ actions

    def _enqueue(self, lesson_id: int, cell: str, body: dict[str, Any], **extra: Any) -> str:
        op_id = body.setdefault("op_id", new_id())
        self.db.execute(
            """INSERT INTO outbox(op_id, lesson_id, cell, body, created, file_path)
            VALUES (?,?,?,?,?,?)""",
            (op_id, lesson_id, cell, json.dumps(body), time.time(), extra.get("file_path")),
        )
        return str(op_id)

    def _pending_op(self, lesson_id: int, cell: str) -> sqlite3.Row | None:
        """The cell's operation that has not left the tablet yet (it may still be replaced)."""
        return self.db.execute(
            """SELECT * FROM outbox WHERE lesson_id=? AND cell=? AND state='pending'
            AND maybe_sent=0 ORDER BY seq DESC LIMIT 1""",
            (lesson_id, cell),
        ).fetchone()

    def _undo_entry(self, lesson_id: int, action: str, **args: Any) -> None:
        self.db.execute(
            "INSERT INTO undo(lesson_id, action, args) VALUES (?,?,?)",
            (lesson_id, action, json.dumps(args)),
        )

    def set_attendance(
        self,
        lesson_id: int,
        student_id: int,
        status: str,
        late_minutes: int | None = None,
        *,
        undoable: bool = True,
    ) -> None:
        late_minutes = late_minutes if status == "late" else None
        with self.tx():
            row = self.db.execute(
                "SELECT * FROM attendance WHERE lesson_id=? AND student_id=?",
                (lesson_id, student_id),
            ).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO attendance(lesson_id, student_id, status) VALUES (?,?,'present')",
                    (lesson_id, student_id),
                )
                row = self.db.execute(
                    "SELECT * FROM attendance WHERE lesson_id=? AND student_id=?",
                    (lesson_id, student_id),
                ).fetchone()
            if undoable:
                self._undo_entry(
                    lesson_id,
                    "attendance",
                    student_id=student_id,
                    status=row["status"],
                    late_minutes=row["late_minutes"],
                )
            self.db.execute(
                "UPDATE attendance SET status=?, late_minutes=? WHERE lesson_id=? AND student_id=?",
                (status, late_minutes, lesson_id, student_id),
            )
            cell = f"att:{student_id}"
            self.db.execute(
                """DELETE FROM outbox WHERE lesson_id=? AND cell=? AND state='pending'
                AND maybe_sent=0""",
                (lesson_id, cell),
            )
            in_flight = self.db.execute(
                """SELECT 1 FROM outbox WHERE lesson_id=? AND cell=?
                AND (state!='pending' OR maybe_sent=1)""",
                (lesson_id, cell),
            ).fetchone()
            server_value = (row["server_status"], row["server_late"])
            if in_flight is None and (status, late_minutes) == server_value:
                return  # back to what the server holds: nothing to send
            body: dict[str, Any] = {
                "kind": "attendance",
                "student_id": student_id,
                "status": status,
            }
            if late_minutes is not None:
                body["late_minutes"] = late_minutes
            if row["server_version"]:
                body["base_version"] = row["server_version"]
            self._enqueue(lesson_id, cell, body)

    def add_mark(
        self,
        lesson_id: int,
        student_id: int,
        value: str,
        work_kind: str,
        comment: str = "",
        *,
        undoable: bool = True,
    ) -> str:
        client_id = new_id()
        with self.tx():
            self.db.execute(
                """INSERT INTO mark(client_id, lesson_id, student_id, value, work_kind, comment,
                    created) VALUES (?,?,?,?,?,?,?)""",
                (client_id, lesson_id, student_id, value, work_kind, comment, time.time()),
            )
            body = {
                "op_id": client_id,
                "kind": "mark",
                "student_id": student_id,
                "value": value,
                "work_kind": work_kind,
            }
            if comment:
                body["comment"] = comment
            self._enqueue(lesson_id, f"mark:{client_id}", body)
            if undoable:
                self._undo_entry(lesson_id, "mark_added", client_id=client_id)
        return client_id

    def change_mark(
        self,
        client_id: str,
        value: str | None = None,
        work_kind: str | None = None,
        comment: str | None = None,
        *,
        undoable: bool = True,
    ) -> None:
        with self.tx():
            m = self.db.execute("SELECT * FROM mark WHERE client_id=?", (client_id,)).fetchone()
            if m is None:
                return
            if undoable:
                self._undo_entry(
                    m["lesson_id"],
                    "mark_changed",
                    client_id=client_id,
                    value=m["value"],
                    work_kind=m["work_kind"],
                    comment=m["comment"],
                    deleted=m["deleted"],
                )
            new = {
                "value": value if value is not None else m["value"],
                "work_kind": work_kind if work_kind is not None else m["work_kind"],
                "comment": comment if comment is not None else m["comment"],
            }
            self.db.execute(
                "UPDATE mark SET value=?, work_kind=?, comment=?, deleted=0 WHERE client_id=?",
                (new["value"], new["work_kind"], new["comment"], client_id),
            )
            cell = f"mark:{client_id}"
            waiting = self._pending_op(m["lesson_id"], cell)
            if waiting is not None:
                body = json.loads(waiting["body"])
                if body["kind"] == "mark":
                    body.update(new)  # not sent yet: the operation carries the new value
                    self.db.execute(
                        "UPDATE outbox SET body=? WHERE seq=?", (json.dumps(body), waiting["seq"])
                    )
                    return
                self.db.execute("DELETE FROM outbox WHERE seq=?", (waiting["seq"],))
            body = {"kind": "mark", **new, **self._mark_ref(m)}
            self._enqueue(m["lesson_id"], cell, body)

    def _mark_ref(self, m: sqlite3.Row) -> dict[str, Any]:
        ref: dict[str, Any] = (
            {"mark_id": m["server_id"]} if m["server_id"] else {"mark_client_id": m["client_id"]}
        )
        if m["server_version"]:
            ref["base_version"] = m["server_version"]
        return ref

    def delete_mark(self, client_id: str, *, undoable: bool = True) -> None:
        with self.tx():
            m = self.db.execute("SELECT * FROM mark WHERE client_id=?", (client_id,)).fetchone()
            if m is None or m["deleted"]:
                return
            if undoable:
                self._undo_entry(
                    m["lesson_id"],
                    "mark_changed",
                    client_id=client_id,
                    value=m["value"],
                    work_kind=m["work_kind"],
                    comment=m["comment"],
                    deleted=0,
                )
            cell = f"mark:{client_id}"
            waiting = self._pending_op(m["lesson_id"], cell)
            if waiting is not None:
                self.db.execute("DELETE FROM outbox WHERE seq=?", (waiting["seq"],))
                if json.loads(waiting["body"]).get("op_id") == client_id:
                    # The mark never left the tablet: it goes as if it never was.
                    self.db.execute("UPDATE mark SET deleted=1 WHERE client_id=?", (client_id,))
                    return
            self.db.execute("UPDATE mark SET deleted=1 WHERE client_id=?", (client_id,))
            self._enqueue(m["lesson_id"], cell, {"kind": "mark_delete", **self._mark_ref(m)})

    def set_topic(self, lesson_id: int, topic: str, *, undoable: bool = True) -> None:
        with self.tx():
            row = self.db.execute(
                "SELECT topic, server_topic FROM lesson WHERE id=?", (lesson_id,)
            ).fetchone()
            if row is None or row["topic"] == topic:
                return
            if undoable:
                self._undo_entry(lesson_id, "topic", topic=row["topic"])
            self.db.execute("UPDATE lesson SET topic=? WHERE id=?", (topic, lesson_id))
            waiting = self._pending_op(lesson_id, "topic")
            if waiting is not None:
                self.db.execute("DELETE FROM outbox WHERE seq=?", (waiting["seq"],))
            if topic != row["server_topic"] and topic.strip():
                self._enqueue(lesson_id, "topic", {"kind": "topic", "topic": topic})

    def add_homework(
        self, lesson_id: int, text: str, due_date: date | None, file_path: str | None = None
    ) -> str:
        local_id = new_id()
        with self.tx():
            body: dict[str, Any] = {"kind": "homework", "text": text}
            if due_date is not None:
                body["due_date"] = due_date.isoformat()
            self._enqueue(lesson_id, f"hw:{local_id}", body, file_path=file_path)
            hw = json.loads(
                self.db.execute("SELECT homework FROM lesson WHERE id=?", (lesson_id,)).fetchone()[
                    0
                ]
            )
            hw.append(
                {
                    "id": None,
                    "local_id": local_id,
                    "text": text,
                    "due_date": body.get("due_date"),
                    "files": 1 if file_path else 0,
                }
            )
            self.db.execute("UPDATE lesson SET homework=? WHERE id=?", (json.dumps(hw), lesson_id))
        return local_id

    def undo(self, lesson_id: int) -> bool:
        """Take back the lesson's last action; False when there is nothing to take back."""
        row = self.db.execute(
            "SELECT * FROM undo WHERE lesson_id=? ORDER BY seq DESC LIMIT 1", (lesson_id,)
        ).fetchone()
        if row is None:
            return False
        args = json.loads(row["args"])
        action = row["action"]
        if action == "attendance":
            self.set_attendance(
                lesson_id, args["student_id"], args["status"], args["late_minutes"], undoable=False
            )
        elif action == "mark_added":
            self.delete_mark(args["client_id"], undoable=False)
        elif action == "mark_changed":
            if args["deleted"]:
                self.delete_mark(args["client_id"], undoable=False)
            else:
                self.change_mark(
                    args["client_id"],
                    args["value"],
                    args["work_kind"],
                    args["comment"],
                    undoable=False,
                )
        elif action == "topic":
            self.set_topic(lesson_id, args["topic"], undoable=False)
        with self.tx():
            self.db.execute("DELETE FROM undo WHERE seq=?", (row["seq"],))
        return True

    # ------------------------------------------------------------------ the sync's side

    def take_batch(self, lesson_id: int, limit: int = 500) -> list[dict[str, Any]]:
        """The lesson's waiting operations, now marked as being sent."""
        with self.tx():
            rows = self.db.execute(
                """SELECT * FROM outbox WHERE lesson_id=? AND state='pending'
                ORDER BY seq LIMIT ?""",
                (lesson_id, limit),
            ).fetchall()
            self.db.executemany(
                "UPDATE outbox SET state='sending', attempts=attempts+1 WHERE seq=?",
                [(r["seq"],) for r in rows],
            )
        return [dict(r) for r in rows]

    def set_attachment(self, seq: int, attachment_id: int) -> None:
        with self.tx():
            self.db.execute("UPDATE outbox SET attachment_id=? WHERE seq=?", (attachment_id, seq))

    def unsent(self, seqs: list[int], error: str = "", maybe_sent: bool = True) -> None:
        """The batch did not reach the server (or no answer came): send it again later.
        A batch that surely never left is compacted like the taps made meanwhile."""
        with self.tx():
            self.db.executemany(
                """UPDATE outbox SET state='pending', error=?, maybe_sent=MAX(maybe_sent, ?)
                WHERE seq=? AND state='sending'""",
                [(error, int(maybe_sent), s) for s in seqs],
            )
            if not maybe_sent:
                self._compact_attendance(seqs)

    def _compact_attendance(self, seqs: list[int]) -> None:
        """Of a cell's attendance operations that never left, the last one alone is sent;
        none when it brings the cell back to the server's value."""
        marks = ",".join("?" * len(seqs))
        cells = self.db.execute(
            f"""SELECT DISTINCT lesson_id, cell FROM outbox WHERE seq IN ({marks})
            AND cell LIKE 'att:%'""",  # noqa: S608 - placeholders only
            seqs,
        ).fetchall()
        for lesson_id, cell in cells:
            ops = self.db.execute(
                """SELECT seq, maybe_sent FROM outbox WHERE lesson_id=? AND cell=?
                AND state='pending' ORDER BY seq""",
                (lesson_id, cell),
            ).fetchall()
            if not ops or any(op["maybe_sent"] for op in ops):
                continue
            for op in ops[:-1]:
                self.db.execute("DELETE FROM outbox WHERE seq=?", (op["seq"],))
            row = self.db.execute(
                "SELECT * FROM attendance WHERE lesson_id=? AND student_id=?",
                (lesson_id, int(cell[4:])),
            ).fetchone()
            if row is not None and (row["status"], row["late_minutes"]) == (
                row["server_status"],
                row["server_late"],
            ):
                self.db.execute("DELETE FROM outbox WHERE seq=?", (ops[-1]["seq"],))

    def rejected(self, op_id: str, error: str) -> None:
        """The server refused this operation as invalid: it stays, marked, for the teacher."""
        with self.tx():
            self.db.execute(
                "UPDATE outbox SET state='rejected', error=? WHERE op_id=?", (error, op_id)
            )

    def settle_results(self, lesson_id: int, results: list[OpResult]) -> list[OpResult]:
        """Write the server's answers; return the conflicts."""
        conflicts = []
        with self.tx():
            for r in results:
                op = self.db.execute("SELECT * FROM outbox WHERE op_id=?", (r.op_id,)).fetchone()
                if op is None:
                    continue
                cell = op["cell"]
                body = json.loads(op["body"])
                if r.status == "conflict":
                    conflicts.append(r)
                    self.db.execute("UPDATE outbox SET state='conflict' WHERE seq=?", (op["seq"],))
                    self.db.execute(
                        """INSERT OR REPLACE INTO conflict(op_id, lesson_id, cell, entity,
                            entity_id, server_version, server, client, who, at)
                        VALUES (?,?,?,?,?,?,?,?,?,?)""",
                        (
                            r.op_id,
                            lesson_id,
                            cell,
                            r.entity,
                            r.id,
                            r.version,
                            json.dumps(r.server),
                            json.dumps(r.client),
                            f"{r.changed_by.name}, {r.changed_by.role}" if r.changed_by else "",
                            r.changed_at.isoformat() if r.changed_at else "",
                        ),
                    )
                    continue
                self.db.execute("DELETE FROM outbox WHERE seq=?", (op["seq"],))
                newer = self.db.execute(
                    "SELECT 1 FROM outbox WHERE lesson_id=? AND cell=?", (lesson_id, cell)
                ).fetchone()
                if cell.startswith("att:"):
                    self.db.execute(
                        """UPDATE attendance SET server_id=COALESCE(?, server_id),
                            server_version=COALESCE(?, server_version), server_status=?,
                            server_late=? WHERE lesson_id=? AND student_id=?""",
                        (
                            r.id,
                            r.version,
                            body["status"],
                            body.get("late_minutes"),
                            lesson_id,
                            body["student_id"],
                        ),
                    )
                    if newer:  # the next operation of this cell builds on this version
                        self._rebase(lesson_id, cell, r.version)
                elif cell.startswith("mark:"):
                    self.db.execute(
                        """UPDATE mark SET server_id=COALESCE(?, server_id),
                            server_version=COALESCE(?, server_version) WHERE client_id=?""",
                        (r.id, r.version, cell[5:]),
                    )
                    if newer:
                        self._rebase(lesson_id, cell, r.version, mark_id=r.id)
                elif cell == "topic":
                    self.db.execute(
                        "UPDATE lesson SET server_topic=? WHERE id=?", (body["topic"], lesson_id)
                    )
        return conflicts

    def _rebase(
        self, lesson_id: int, cell: str, version: int | None, mark_id: int | None = None
    ) -> None:
        for op in self.db.execute(
            "SELECT seq, body FROM outbox WHERE lesson_id=? AND cell=? AND state='pending'",
            (lesson_id, cell),
        ).fetchall():
            body = json.loads(op["body"])
            if version is not None:
                body["base_version"] = version
            if mark_id is not None and "mark_client_id" in body:
                body.pop("mark_client_id")
                body["mark_id"] = mark_id
            self.db.execute("UPDATE outbox SET body=? WHERE seq=?", (json.dumps(body), op["seq"]))

    def note_conflict_author(self, op_id: str, who: str, at: str) -> None:
        with self.tx():
            self.db.execute("UPDATE conflict SET who=?, at=? WHERE op_id=?", (who, at, op_id))

    def conflicts(self, lesson_id: int | None = None) -> list[dict[str, Any]]:
        sql = """SELECT c.*, p.name, p.student_id FROM conflict c
            LEFT JOIN outbox o ON o.op_id=c.op_id
            LEFT JOIN pupil p ON p.lesson_id=c.lesson_id
                AND p.student_id=json_extract(o.body, '$.student_id')"""
        rows = (
            self.db.execute(sql + " WHERE c.lesson_id=?", (lesson_id,)).fetchall()
            if lesson_id is not None
            else self.db.execute(sql).fetchall()
        )
        out = []
        for row in rows:
            item = dict(row)
            item["server"] = json.loads(row["server"]) if row["server"] else None
            item["client"] = json.loads(row["client"]) if row["client"] else None
            if item["name"] is None and row["cell"].startswith("mark:"):
                m = self.db.execute(
                    """SELECT p.name, p.student_id FROM mark m JOIN pupil p
                    ON p.lesson_id=m.lesson_id AND p.student_id=m.student_id
                    WHERE m.client_id=?""",
                    (row["cell"][5:],),
                ).fetchone()
                item["name"] = m[0] if m else ""
                item["student_id"] = m[1] if m else None
            out.append(item)
        return out

    def resolve(self, op_id: str, keep_mine: bool) -> None:
        """The teacher chose. Keeping one's own value sends it again as a new operation based
        on the server's version; taking the server's value writes it on the tablet."""
        with self.tx():
            c = self.db.execute("SELECT * FROM conflict WHERE op_id=?", (op_id,)).fetchone()
            op = self.db.execute("SELECT * FROM outbox WHERE op_id=?", (op_id,)).fetchone()
            if c is None or op is None:
                return
            self.db.execute("DELETE FROM conflict WHERE op_id=?", (op_id,))
            self.db.execute("DELETE FROM outbox WHERE op_id=?", (op_id,))
            lesson_id, cell = c["lesson_id"], c["cell"]
            body = json.loads(op["body"])
            server = json.loads(c["server"]) if c["server"] else {}
            if cell.startswith("att:"):
                student = body["student_id"]
                self.db.execute(
                    """UPDATE attendance SET server_id=?, server_version=?, server_status=?,
                        server_late=? WHERE lesson_id=? AND student_id=?""",
                    (
                        c["entity_id"],
                        c["server_version"],
                        server.get("status", "present"),
                        server.get("late_minutes"),
                        lesson_id,
                        student,
                    ),
                )
                if not keep_mine:
                    self.db.execute(
                        """UPDATE attendance SET status=server_status, late_minutes=server_late
                        WHERE lesson_id=? AND student_id=?""",
                        (lesson_id, student),
                    )
            elif cell.startswith("mark:"):
                self.db.execute(
                    "UPDATE mark SET server_id=?, server_version=? WHERE client_id=?",
                    (c["entity_id"], c["server_version"], cell[5:]),
                )
                if not keep_mine and server:
                    self.db.execute(
                        """UPDATE mark SET value=?, work_kind=?, comment=?, deleted=?
                        WHERE client_id=?""",
                        (
                            server.get("value"),
                            server.get("work_kind"),
                            server.get("comment", ""),
                            int(bool(server.get("deleted"))),
                            cell[5:],
                        ),
                    )
                if keep_mine:
                    body.pop("mark_client_id", None)
                    if body["kind"] == "mark" and "student_id" in body and c["entity_id"]:
                        body.pop("student_id")
                    body["mark_id"] = c["entity_id"]
            elif cell == "topic" and not keep_mine:
                topic = server.get("topic", "")
                self.db.execute(
                    "UPDATE lesson SET topic=?, server_topic=? WHERE id=?",
                    (topic, topic, lesson_id),
                )
            elif cell == "topic":
                self.db.execute(
                    "UPDATE lesson SET server_topic=? WHERE id=?", (server.get("topic"), lesson_id)
                )
            if keep_mine:
                body["op_id"] = new_id()
                if c["server_version"] is not None:
                    body["base_version"] = c["server_version"]
                self._enqueue(lesson_id, cell, body, file_path=op["file_path"])


def _worst(states: list[str]) -> str:
    return max(states, key=_WORST.index, default=SYNCED)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


class Db:
    """Runs the store's calls on one worker thread, so the UI thread never waits on the disk."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parta-store")

    async def __call__(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kw))

    def now(
        self, fn: Callable[..., T], *args: Any, started: float, timings: list[float], **kw: Any
    ) -> asyncio.Future[T]:
        """Hand an action to the store's thread at once, from the UI thread, rather than when
        the event loop next runs a task (after the frame being drawn): a tap is committed
        while the screen redraws. The time from `started` (the tap) to the commit is measured
        on the store's thread and appended to `timings`."""

        def run() -> T:
            result = fn(*args, **kw)
            timings.append((time.perf_counter() - started) * 1000)
            return result

        return asyncio.wrap_future(self._pool.submit(run))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()
