# Over 600 lines: all columns share one report of line problems (kept whole: in other work).
"""Import and export of pupils, guardians (linked to pupils), staff and classes: CSV and XLSX.

An import is checked whole before anything is written: every bad line is reported with its
column and a Russian reason (not only the first), including duplicates within the file and
against the database. Then everything is written in one transaction, so a file imports wholly
or not at all. Export writes the same columns back, so an exported file imports again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Forbidden, ValidationFailed
from backend.core.rights import Permission
from backend.i18n import t
from backend.schools.people import consent
from backend.schools.people.class_teachers import follow_class_teacher
from backend.schools.people.fields import (
    GUARDIAN_RULES,
    STAFF_RULES,
    STUDENT_RULES,
    Cleaner,
    clean_fields,
    personal_given,
)
from backend.schools.people.import_updates import (
    DOCUMENT_NAMES,
    Change,
    Recognised,
    field_changes,
    shown,
    write_pupil_updates,
)
from backend.schools.people.movement import class_code, class_label, ensure, today
from backend.schools.places import school_target
from backend.schools.tables import (
    AcademicYear,
    Consent,
    Enrollment,
    Guardian,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
)
from backend.schools.validators import (
    CLASS_LETTER,
    PE_GROUP_NAMES,
    POSITIONS,
    format_snils,
    normalize_relation,
)

Kind = Literal["pupils", "guardians", "staff", "classes"]
KINDS: tuple[str, ...] = ("pupils", "guardians", "staff", "classes")
SNILS_TWICE = "import.duplicate_snils_line"
Progress = Callable[[str, int, int | None], None]  # (phase, advance, total)


def _no_progress(_: str, __: int, ___: int | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    required: bool = False


CONSENT_COLUMN = Column("consent_on", "Дата согласия на обработку ПДн")
ID_COLUMN = Column("id", "Код в Парте")  # written by the export; a line with it updates that pupil

COLUMNS: dict[str, list[Column]] = {
    "pupils": [
        ID_COLUMN,
        Column("last_name", "Фамилия", True),
        Column("first_name", "Имя", True),
        Column("middle_name", "Отчество"),
        Column("class_name", "Класс", True),
        Column("admitted_on", "Дата зачисления"),
        Column("order_number", "Номер приказа", True),
        Column("personal_file_number", "Номер личного дела"),
        Column("birth_date", "Дата рождения"),
        Column("sex", "Пол"),
        Column("citizenship", "Гражданство"),
        Column("snils", "СНИЛС"),
        Column("document_kind", "Вид документа"),
        Column("document_series", "Серия документа"),
        Column("document_number", "Номер документа"),
        Column("document_issued_on", "Дата выдачи документа"),
        Column("document_issued_by", "Кем выдан документ"),
        Column("registration_address", "Адрес регистрации"),
        Column("residence_address", "Адрес проживания"),
        Column("phone", "Телефон"),
        Column("email", "E-mail"),
        Column("health_group", "Группа здоровья"),
        Column("pe_group", "Физкультурная группа"),
        CONSENT_COLUMN,
    ],
    "guardians": [
        Column("last_name", "Фамилия", True),
        Column("first_name", "Имя", True),
        Column("middle_name", "Отчество"),
        Column("phone", "Телефон"),
        Column("email", "E-mail"),
        Column("snils", "СНИЛС"),
        Column("document_kind", "Вид документа"),
        Column("document_series", "Серия документа"),
        Column("document_number", "Номер документа"),
        Column("address", "Адрес"),
        Column("relation", "Степень родства"),
        Column("is_legal_representative", "Законный представитель"),
        Column("child_last_name", "Фамилия ребёнка", True),
        Column("child_first_name", "Имя ребёнка", True),
        Column("child_middle_name", "Отчество ребёнка"),
        Column("child_birth_date", "Дата рождения ребёнка"),
        Column("child_class", "Класс ребёнка"),
        CONSENT_COLUMN,
    ],
    "staff": [
        Column("last_name", "Фамилия", True),
        Column("first_name", "Имя", True),
        Column("middle_name", "Отчество"),
        Column("positions", "Должности", True),
        Column("birth_date", "Дата рождения"),
        Column("sex", "Пол"),
        Column("snils", "СНИЛС"),
        Column("phone", "Телефон"),
        Column("email", "E-mail"),
        Column("hired_on", "Дата приёма"),
        CONSENT_COLUMN,
    ],
    "classes": [
        Column("class_name", "Класс", True),
        Column("shift", "Смена"),
        Column("class_teacher", "Классный руководитель"),
    ],
}
HEALTH_KEYS = ("health_group", "pe_group")

POSITION_NAMES = {
    "teacher": "учитель",
    "class_teacher": "классный руководитель",
    "coordinator": "координатор",
    "secretary": "секретарь",
    "sysadmin": "системный администратор",
    "director": "директор",
    "nurse": "медицинский работник",
    "caterer": "организатор питания",
    "security": "охрана",
}
POSITION_CODES = {**{v: k for k, v in POSITION_NAMES.items()}, **{p: p for p in POSITIONS}}
RELATION_NAMES = {"mother": "мать", "father": "отец", "guardian": "опекун", "other": "другое"}
YES = {"да", "yes", "true", "1", "+", "д"}
NO = {"нет", "no", "false", "0", "-", "н"}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str
    message: str


@dataclass
class ImportReport:
    kind: str
    imported: bool
    rows: int
    created: int = 0
    would_create: int = 0  # what the file creates: also told by a dry run, which writes nothing
    updated: int = 0
    would_update: int = 0  # people recognised whom the file changes
    unchanged: int = 0  # people recognised whom the file leaves as they are
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def as_details(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "imported": self.imported,
            "rows": self.rows,
            "created": self.created,
            "would_create": self.would_create,
            "updated": self.updated,
            "would_update": self.would_update,
            "unchanged": self.unchanged,
            "problems": [
                {"line": p.line, "column": p.column, "message": p.message} for p in self.problems
            ],
            "changes": [
                {"line": c.line, "column": c.column, "old": c.old, "new": c.new}
                for c in self.changes
            ],
        }


class ImportFailed(ValidationFailed):
    """The file was not imported; `details` is the whole report."""

    code = "import_failed"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            t("import.failed", count=len(report.problems), rows=report.rows),
            details=report.as_details(),
        )
        self.report = report


# ---- reading files -------------------------------------------------------------------------


def _norm_header(text: str) -> str:
    return " ".join(text.replace("*", "").replace("ё", "е").replace("Ё", "Е").lower().split())


def _norm_name(text: str) -> str:
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").lower().split())


OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Excel (.xls), Word (.doc)...


def read_rows(data: bytes, filename: str = "") -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their line numbers (the header is line 1). Empty rows
    are skipped but keep the numbering, so a line number matches what the person sees."""
    if data.startswith(OLE2_MAGIC):
        raise ValidationFailed(key="import.old_xls")
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        return _read_xlsx(data)
    return _read_csv(data)


def decode_table_text(data: bytes) -> str:
    """A CSV's text: UTF-8 (with or without the mark Excel writes), UTF-16 with its mark
    (Excel's "Unicode text"), or Windows-1251, which Russian offices still produce, when it reads
    as Russian text. Anything else is refused in words rather than guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValidationFailed(key="import.unreadable") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1251")
        except UnicodeDecodeError:
            raise ValidationFailed(key="import.unreadable") from None
        # Plausible Russian: the letters beyond ASCII are nearly all Cyrillic ones.
        beyond = [ch for ch in text if ord(ch) > 127]
        cyrillic = sum(1 for ch in beyond if "А" <= ch <= "я" or ch in "Ёё")
        if cyrillic < 0.8 * len(beyond):
            raise ValidationFailed(key="import.unreadable") from None
    if "\x00" in text:
        raise ValidationFailed(key="import.unreadable")
    return text


def _read_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    text = decode_table_text(data)
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise ValidationFailed(key="import.empty")
    return rows[0], [
        (n, row) for n, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)
    ]


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(key="import.bad_xlsx") from exc
    sheet = book.worksheets[0]
    rows: list[list[str]] = []
    for values in sheet.iter_rows(values_only=True):
        rows.append([_cell_text(v) for v in values])
    book.close()
    if not rows:
        raise ValidationFailed(key="import.empty")
    return rows[0], [
        (n, row) for n, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)
    ]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def map_columns(kind: str, header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    columns = COLUMNS[kind]
    known = {}
    for column in columns:
        known[_norm_header(column.header)] = column.key
        known[column.key] = column.key
    index: dict[str, int] = {}
    problems: list[Problem] = []
    for i, raw in enumerate(header):
        name = _norm_header(raw)
        if not name:
            continue
        key = known.get(name)
        if key is None:
            problems.append(Problem(1, raw, t("import.unknown_column", column=raw)))
        elif key in index:
            problems.append(Problem(1, raw, t("import.repeated_column", column=raw)))
        else:
            index[key] = i
    for column in columns:
        if column.required and column.key not in index:
            problems.append(
                Problem(1, column.header, t("import.missing_column", column=column.header))
            )
    return index, problems


@dataclass
class Line:
    number: int
    values: dict[str, str]


def _lines(index: dict[str, int], rows: list[tuple[int, list[str]]]) -> list[Line]:
    return [
        Line(
            number,
            {key: (row[i].strip() if i < len(row) else "") for key, i in index.items()},
        )
        for number, row in rows
    ]


class Checker:
    """Collects the problems of one file, with the column headers people see."""

    def __init__(self, kind: str, *, shows_health: bool = True) -> None:
        self.headers = {c.key: c.header for c in COLUMNS[kind]}
        self.problems: list[Problem] = []
        self.shows_health = shows_health  # may the dry run show a pupil's old health groups

    def add(self, line: Line | int, key: str, message: str) -> None:
        number = line.number if isinstance(line, Line) else line
        self.problems.append(Problem(number, self.headers.get(key, key), message))

    def clean(self, line: Line, rules: dict[str, Cleaner]) -> dict[str, Any]:
        given = {k: v for k, v in line.values.items() if k in rules}
        clean, problems = clean_fields(rules, given)
        for p in problems:
            self.add(line, p.field, p.message)
        return clean

    def required(self, line: Line, *keys: str) -> bool:
        ok = True
        for key in keys:
            if not line.values.get(key):
                self.add(line, key, t("import.required", column=self.headers[key]))
                ok = False
        return ok

    def a_date(self, line: Line, key: str, *, past: bool = False) -> date | None:
        text = line.values.get(key, "")
        if not text:
            return None
        for fmt in ("%d.%m.%Y", "%Y-%m-%d"):
            try:
                value = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        else:
            self.add(line, key, t("people.date_invalid", value=text))
            return None
        if past and value > today():
            self.add(line, key, t("import.date_future", value=text))
            return None
        return value

    def consent(self, line: Line, subject_kind: str, clean: dict[str, Any]) -> date | None:
        """The consent date, and a problem when personal data comes without one."""
        given_on = self.a_date(line, "consent_on", past=True)
        fields = personal_given(subject_kind, clean)
        if fields and given_on is None and not line.values.get("consent_on"):
            self.add(
                line,
                "consent_on",
                consent.consent_required_message(subject_kind, fields),
            )
        return given_on

    def repeated(
        self,
        line: Line,
        key: str,
        first_lines: dict[Any, int],
        value: Any,
        message: str = "import.duplicate_line",
    ) -> bool:
        """Whether `value` stood on an earlier line of the file (a problem then, naming that
        line); `first_lines` keeps the first line of each value."""
        if value not in first_lines:
            first_lines[value] = line.number
            return False
        self.add(line, key, t(message, line=first_lines[value]))
        return True


def parse_class_name(text: str) -> tuple[int, str] | None:
    """ "5А", "5 А", "5-а", "11Б" -> (grade, upper-case letter)."""
    compact = "".join(ch for ch in text if ch not in " -«»\"'").upper()
    digits = "".join(ch for ch in compact if ch.isdigit())
    letter = compact[len(digits) :]
    if not digits or not compact.startswith(digits) or not 1 <= int(digits) <= 11:
        return None
    if not CLASS_LETTER.fullmatch(letter):
        return None
    return int(digits), letter


# ---- the year and the classes of a school --------------------------------------------------


async def year_of(school_id: int, year_id: int | None, on: date | None = None) -> dict[str, Any]:
    if year_id is not None:
        row = (
            await AcademicYear.select()
            .where((AcademicYear.id == year_id) & (AcademicYear.school == school_id))
            .first()
        )
    else:
        day = on or today()
        row = (
            await AcademicYear.select()
            .where(
                (AcademicYear.school == school_id)
                & (AcademicYear.starts_on <= day)
                & (AcademicYear.ends_on >= day)
            )
            .first()
        )
    if row is None:
        raise ValidationFailed(key="import.no_year")
    return row


async def classes_of_year(year_id: int) -> dict[tuple[int, str], int]:
    rows = await SchoolClass.select(SchoolClass.id, SchoolClass.grade, SchoolClass.letter).where(
        SchoolClass.academic_year == year_id
    )
    return {(r["grade"], r["letter"].upper()): r["id"] for r in rows}


# ---- import --------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one line will write, once the whole file has passed."""

    line: int
    data: dict[str, Any]
    update: dict[str, Any] | None = None  # a recognised pupil: what changes (maybe nothing)
    changes: list[Change] = field(default_factory=list)


def _would_create(kind: str, plans: list[Plan]) -> int:
    """How many records the write step creates: a guardian named on several lines (or already
    known) is one record or none."""
    if kind == "guardians":
        return len({p.data["identity"] for p in plans if not p.data.get("existing_id")})
    return len([p for p in plans if p.update is None])


async def import_file(
    actor: Actor,
    school_id: int,
    kind: str,
    data: bytes,
    filename: str = "",
    *,
    year_id: int | None = None,
    create_classes: bool = False,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Check the whole file, then write it in one transaction. Raises `ImportFailed` (a 400
    whose details are the report) when any line is bad; nothing is written then."""
    if kind not in KINDS:
        raise ValidationFailed(key="import.unknown_kind")
    target = await school_target(school_id)
    permission = (
        Permission.STRUCTURE_MANAGE if kind == "classes" else Permission.PERSONAL_FILE_WRITE
    )
    ensure(actor, permission, target)
    if kind == "pupils" and create_classes:
        ensure(actor, Permission.STRUCTURE_MANAGE, target)
    header, rows = read_rows(data, filename)
    index, header_problems = map_columns(kind, header)
    report = ImportReport(kind=kind, imported=False, rows=len(rows))
    if header_problems:
        report.problems = header_problems
        raise ImportFailed(report)
    lines = _lines(index, rows)
    if not lines:
        raise ValidationFailed(key="import.empty")
    year = await year_of(school_id, year_id) if kind in ("pupils", "classes", "guardians") else {}
    checker = Checker(
        kind,
        shows_health=actor.principal is None
        or actor.principal.allows(Permission.HEALTH_READ, target),
    )
    progress("check", 0, len(lines))
    plans = await CHECKERS[kind](checker, school_id, year, lines, create_classes, progress)
    if checker.problems:
        report.problems = sorted(checker.problems, key=lambda p: (p.line, p.column))
        raise ImportFailed(report)
    new = [p for p in plans if p.update is None]
    updates = [p.update for p in plans if p.update is not None and p.changes]
    report.would_create = _would_create(kind, new)
    report.would_update = len(updates)
    report.unchanged = len(plans) - len(new) - len(updates)
    report.changes = [c for p in plans for c in p.changes]
    if dry_run:
        return report
    progress("write", 0, len(plans))
    async with transaction():
        created = await WRITERS[kind](actor, school_id, year, new, progress) if new else []
        updated = await write_pupil_updates(actor, school_id, updates)
        await record(
            actor,
            "import",
            object_type=kind,
            object_id=school_id,
            school_id=school_id,
            details={
                "kind": kind,
                "rows": len(lines),
                "created_ids": created[:5000],
                "updated_ids": updated[:5000],
            },
        )
    report.imported = True
    report.created = len(created)
    report.updated = len(updated)
    return report


def _dup_key(*parts: Any) -> tuple[str, ...]:
    return tuple(_norm_name(str(p)) if p is not None else "" for p in parts)


def _person_key(clean: dict[str, Any]) -> tuple[str, ...] | None:
    """A person's name and birth date, as two lines or the database name the same person
    (None without the name to compare)."""
    if not (clean.get("last_name") and clean.get("first_name")):
        return None
    return _dup_key(
        clean["last_name"],
        clean["first_name"],
        clean.get("middle_name", ""),
        clean.get("birth_date"),
    )


def _columns(data: dict[str, Any], rules: dict[str, Cleaner]) -> dict[str, Any]:
    """A plan's values that are the table's own columns (the given ones)."""
    return {k: v for k, v in data.items() if k in rules and v is not None}


def _consent(actor: Actor, subject_kind: str, subject_id: int, given_on: date) -> Consent:
    """The consent a file's line gave the date of, recorded as given with the import."""
    return Consent(
        subject_kind=subject_kind,
        subject_id=subject_id,
        given_on=given_on,
        document_ref=t("import.consent_ref"),
        recorded_by=actor.user_id,
    )


async def _check_pupils(
    checker: Checker,
    school_id: int,
    year: dict[str, Any],
    lines: list[Line],
    create_classes: bool,
    progress: Progress,
) -> list[Plan]:
    classes = await classes_of_year(year["id"])
    known = await Recognised.of_school(school_id)
    in_school = {
        _dup_key(r["last_name"], r["first_name"], r["middle_name"], r["birth_date"])
        for r in known.by_id.values()
    }
    members = await YearMembers.of(year) if known.by_id else YearMembers({}, {}, {})
    consents = await _consent_dates("student", known.by_id)
    plans: list[Plan] = []
    seen_people: dict[tuple[str, ...], int] = {}
    seen_snils: dict[str, int] = {}
    seen_ids: dict[int, int] = {}
    owners: dict[str, int] = {}  # SNILS -> the recognised pupil a line gives it to
    for line in lines:
        checker.required(line, "last_name", "first_name", "class_name", "order_number")
        clean = checker.clean(line, STUDENT_RULES)
        existing = _recognise(checker, line, clean, known, seen_ids)
        # A line naming an id nobody has is already refused; it is not a new pupil either.
        unknown_id = existing is None and bool(line.values.get("id"))
        class_key = None
        if line.values.get("class_name"):
            class_key = parse_class_name(line.values["class_name"])
            if class_key is None:
                checker.add(
                    line, "class_name", t("import.class_invalid", value=line.values["class_name"])
                )
            elif class_key not in classes and (existing or not create_classes):
                checker.add(
                    line,
                    "class_name",
                    t("import.class_missing", value=line.values["class_name"], year=year["name"]),
                )
        if len(line.values.get("order_number", "")) > 64:
            checker.add(line, "order_number", t("movement.order_too_long"))
        key = _person_key(clean)
        repeated = key is not None and checker.repeated(line, "last_name", seen_people, key)
        if not repeated and key in in_school and existing is None and not unknown_id:
            checker.add(line, "last_name", t("import.duplicate_pupil"))
        if clean.get("snils") and not unknown_id:
            checker.repeated(line, "snils", seen_snils, clean["snils"], SNILS_TWICE)
            if existing is not None:
                owners[clean["snils"]] = int(existing["id"])
        if existing is not None:
            plans.append(
                _update_plan(checker, line, clean, existing, members, consents, classes, class_key)
            )
        else:
            given_on = checker.consent(line, "student", clean)
            admitted_on = checker.a_date(line, "admitted_on") or year["starts_on"]
            if not year["starts_on"] <= admitted_on <= year["ends_on"]:
                checker.add(line, "admitted_on", t("import.date_outside_year", year=year["name"]))
            plans.append(
                Plan(
                    line.number,
                    {
                        **clean,
                        "class_key": class_key,
                        "admitted_on": admitted_on,
                        "order_number": line.values.get("order_number", ""),
                        "consent_on": given_on,
                    },
                )
            )
        progress("check", 1, None)
    await _snils_taken(checker, Student, seen_snils, owners)
    return plans


def _recognise(
    checker: Checker,
    line: Line,
    clean: dict[str, Any],
    known: Recognised,
    seen_ids: dict[int, int],
) -> dict[str, Any] | None:
    """The pupil of the school this line is about: by «Код в Парте», else by SNILS."""
    existing = None
    code = line.values.get("id", "")
    if code:
        existing = known.by_id.get(int(code)) if code.isdigit() and len(code) < 12 else None
        if existing is None:
            checker.add(line, "id", t("import.unknown_id", value=code))
            return None
        other = known.by_snils.get(clean.get("snils") or "")
        if other is not None and other["id"] != existing["id"]:
            checker.add(line, "snils", t("import.snils_of_other_pupil"))
    elif clean.get("snils"):
        existing = known.by_snils.get(clean["snils"])
    if existing is not None:
        first = seen_ids.setdefault(int(existing["id"]), line.number)
        if first != line.number:
            checker.add(line, "id" if code else "snils", t("import.same_pupil_line", line=first))
    return existing


def _update_plan(
    checker: Checker,
    line: Line,
    clean: dict[str, Any],
    existing: dict[str, Any],
    members: YearMembers,
    consents: dict[int, date],
    classes: dict[tuple[int, str], int],
    class_key: tuple[int, str] | None,
) -> Plan:
    """A recognised pupil's line: the fields it changes. Class, admission date and order belong
    to the pupil's movement and must match it; consent may be added, not taken away."""
    pupil_id = int(existing["id"])
    current = members.current.get(pupil_id)
    joined = members.joined.get(pupil_id)
    if class_key is not None and class_key in classes and classes[class_key] != current:
        where = members.labels.get(current or 0)
        checker.add(
            line,
            "class_name",
            t("import.class_differs", current=where)
            if where
            else t("import.not_in_a_class", value=line.values["class_name"]),
        )
    if joined is not None:
        admitted = checker.a_date(line, "admitted_on")
        if "admitted_on" in line.values and admitted not in (None, joined["date"]):
            checker.add(
                line, "admitted_on", t("import.movement_differs", value=shown("", joined["date"]))
            )
        order = line.values.get("order_number")
        if order is not None and order != joined["order_number"]:
            checker.add(
                line,
                "order_number",
                t("import.movement_differs", value=joined["order_number"] or "—"),
            )
    values, changes = field_changes(
        existing, clean, checker.headers, line.number, shows_health=checker.shows_health
    )
    had_consent = consents.get(pupil_id)
    given_on = checker.a_date(line, "consent_on", past=True)
    new_consent = None
    if "consent_on" in line.values:
        if given_on is not None and given_on != had_consent:
            new_consent = given_on
            changes.append(
                Change(
                    line.number,
                    checker.headers["consent_on"],
                    shown("", had_consent),
                    shown("", given_on),
                )
            )
        elif not line.values["consent_on"] and had_consent is not None:
            checker.add(line, "consent_on", t("import.consent_not_revoked"))
    stored = personal_given("student", values)
    if stored and had_consent is None and new_consent is None:
        checker.add(line, "consent_on", consent.consent_required_message("student", stored))
    update = {"student_id": pupil_id, "values": values, "consent_on": new_consent}
    return Plan(line.number, {}, update=update, changes=changes)


async def _snils_taken(
    checker: Checker,
    table: type[Student] | type[Staff] | type[Guardian],
    seen: dict[str, int],
    owners: dict[str, int] | None = None,
) -> None:
    """SNILS the file gives that belong to somebody else already (not the pupil the line is)."""
    if not seen:
        return
    taken = await table.select(table._meta.primary_key, table.snils).where(
        table.snils.is_in(list(seen))
    )
    for row in taken:
        if (owners or {}).get(row["snils"]) != row["id"]:
            checker.add(seen[row["snils"]], "snils", t("import.duplicate_snils_db"))


CHUNK = 500  # rows per INSERT: well under SQLite's limit on bound variables


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


async def _insert_all(table: type[Any], rows: list[Any]) -> list[int]:
    """Multi-row INSERT ... RETURNING id, in chunks. Both engines return the ids in the order of
    the VALUES list (Django's bulk_create relies on the same)."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        result = await table.insert(*chunk).returning(table.id)
        ids.extend(int(r["id"]) for r in result)
    return ids


async def _write_pupils(
    actor: Actor, school_id: int, year: dict[str, Any], plans: list[Plan], progress: Progress
) -> list[int]:
    classes = await classes_of_year(year["id"])
    for plan in plans:
        key = plan.data["class_key"]
        if key not in classes:
            row = SchoolClass(
                school=school_id, academic_year=year["id"], grade=key[0], letter=key[1]
            )
            await row.save()
            classes[key] = int(row.id)
    students = []
    for plan in plans:
        values = _columns(plan.data, STUDENT_RULES)
        if not values.get("citizenship"):
            values.pop("citizenship", None)  # the table's default (RUS)
        students.append(Student(school=school_id, **values))
    created = await _insert_all(Student, students)
    progress("write", len(created) // 2, None)
    consents = [
        _consent(actor, "student", sid, plan.data["consent_on"])
        for sid, plan in zip(created, plans, strict=True)
        if plan.data["consent_on"] is not None
    ]
    await _insert_all(Consent, consents)
    entries = [
        Enrollment(
            student=sid,
            school=school_id,
            school_class=classes[plan.data["class_key"]],
            kind="admitted",
            date=plan.data["admitted_on"],
            order_number=plan.data["order_number"],
            recorded_by=actor.user_id,
        )
        for sid, plan in zip(created, plans, strict=True)
    ]
    await _insert_all(Enrollment, entries)
    progress("write", len(created) - len(created) // 2, None)
    return created


async def _check_guardians(
    checker: Checker,
    school_id: int,
    year: dict[str, Any],
    lines: list[Line],
    create_classes: bool,
    progress: Progress,
) -> list[Plan]:
    from backend.schools.people.movement import classes_on

    pupils = await Student.select(
        Student.id, Student.last_name, Student.first_name, Student.middle_name, Student.birth_date
    ).where(Student.school == school_id)
    class_of = await classes_on([p["id"] for p in pupils], today())
    labels = {v: k for k, v in (await classes_of_year(year["id"])).items()}
    plans: list[Plan] = []
    by_phone: dict[str, tuple[str, str, int]] = {}
    pairs: dict[tuple[Any, int], int] = {}
    for line in lines:
        checker.required(line, "last_name", "first_name", "child_last_name", "child_first_name")
        clean = checker.clean(line, GUARDIAN_RULES)
        given_on = checker.consent(line, "guardian", clean)
        relation = "other"
        try:
            relation = normalize_relation(line.values.get("relation", ""))
        except ValidationFailed as exc:
            checker.add(line, "relation", exc.message)
        legal_text = line.values.get("is_legal_representative", "").lower()
        if legal_text and legal_text not in YES | NO:
            checker.add(line, "is_legal_representative", t("import.yes_no"))
        child_birth = checker.a_date(line, "child_birth_date", past=True)
        child_id = None
        if line.values.get("child_last_name") and line.values.get("child_first_name"):
            wanted = _dup_key(
                line.values["child_last_name"],
                line.values["child_first_name"],
                line.values.get("child_middle_name", ""),
            )
            wanted_class = (
                parse_class_name(line.values.get("child_class", ""))
                if line.values.get("child_class")
                else None
            )
            matches = [
                p
                for p in pupils
                if _dup_key(p["last_name"], p["first_name"], p["middle_name"])[:2] == wanted[:2]
                and (not wanted[2] or _dup_key(p["middle_name"])[0] == wanted[2])
                and (child_birth is None or p["birth_date"] == child_birth)
                and (wanted_class is None or labels.get(class_of.get(p["id"]) or 0) == wanted_class)
            ]
            if not matches:
                checker.add(line, "child_last_name", t("import.child_not_found"))
            elif len(matches) > 1:
                checker.add(line, "child_last_name", t("import.child_ambiguous"))
            else:
                child_id = matches[0]["id"]
        phone = clean.get("phone")
        identity: Any = phone or _dup_key(
            clean.get("last_name", ""), clean.get("first_name", ""), clean.get("middle_name", "")
        )
        if phone and clean.get("last_name"):
            names = (_norm_name(clean["last_name"]), _norm_name(clean.get("first_name", "")))
            first = by_phone.setdefault(phone, (*names, line.number))
            if first[:2] != names:
                checker.add(line, "phone", t("import.phone_other_person", line=first[2]))
                child_id = None  # the line is wrong already; do not also call it a repeat
        if child_id is not None:
            checker.repeated(line, "child_last_name", pairs, (identity, child_id))
        plans.append(
            Plan(
                line.number,
                {
                    **clean,
                    "identity": identity,
                    "relation": relation,
                    "legal": legal_text not in NO,
                    "child_id": child_id,
                    "consent_on": given_on,
                },
            )
        )
        progress("check", 1, None)
    # Against the database: a phone on file belongs to that guardian (same name) or is an error;
    # a child already linked to that guardian is a duplicate.
    phones = [p.data["phone"] for p in plans if p.data.get("phone")]
    known = {}
    if phones:
        for row in await Guardian.select(
            Guardian.id, Guardian.phone, Guardian.last_name, Guardian.first_name
        ).where(Guardian.phone.is_in(phones)):
            known[row["phone"]] = row
    linked = set()
    if known:
        for row in await StudentGuardian.select(
            StudentGuardian.student, StudentGuardian.guardian
        ).where(StudentGuardian.guardian.is_in([r["id"] for r in known.values()])):
            linked.add((row["guardian"], row["student"]))
    for plan in plans:
        found = known.get(plan.data.get("phone") or "")
        if found is None:
            continue
        same = (_norm_name(found["last_name"]), _norm_name(found["first_name"])) == (
            _norm_name(plan.data.get("last_name", "")),
            _norm_name(plan.data.get("first_name", "")),
        )
        if not same:
            checker.add(plan.line, "phone", t("people.phone_other_guardian", phone=found["phone"]))
        elif (found["id"], plan.data["child_id"]) in linked:
            checker.add(plan.line, "child_last_name", t("people.already_linked"))
        plan.data["existing_id"] = found["id"]
    return plans


async def _write_guardians(
    actor: Actor, school_id: int, year: dict[str, Any], plans: list[Plan], progress: Progress
) -> list[int]:
    ids: dict[Any, int] = {}
    created: list[int] = []
    for plan in plans:
        d = plan.data
        guardian_id = ids.get(d["identity"]) or d.get("existing_id")
        if guardian_id is None:
            row = Guardian(**_columns(d, GUARDIAN_RULES))
            await row.save()
            guardian_id = int(row.id)
            created.append(guardian_id)
            if d["consent_on"] is not None:
                await _consent(actor, "guardian", guardian_id, d["consent_on"]).save()
        ids[d["identity"]] = guardian_id
        await StudentGuardian(
            student=d["child_id"],
            guardian=guardian_id,
            relation=d["relation"],
            is_legal_representative=d["legal"],
        ).save()
        progress("write", 1, None)
    return created


async def _check_staff(
    checker: Checker,
    school_id: int,
    year: dict[str, Any],
    lines: list[Line],
    create_classes: bool,
    progress: Progress,
) -> list[Plan]:
    existing = await Staff.select(
        Staff.last_name, Staff.first_name, Staff.middle_name, Staff.birth_date
    ).where(Staff.school == school_id)
    in_school = {
        _dup_key(r["last_name"], r["first_name"], r["middle_name"], r["birth_date"])
        for r in existing
    }
    plans: list[Plan] = []
    seen: dict[tuple[str, ...], int] = {}
    seen_snils: dict[str, int] = {}
    for line in lines:
        checker.required(line, "last_name", "first_name", "positions")
        clean = checker.clean(line, STAFF_RULES)
        given_on = checker.consent(line, "staff", clean)
        positions: list[str] = []
        for item in line.values.get("positions", "").replace(";", ",").split(","):
            name = _norm_name(item)
            if not name:
                continue
            code = POSITION_CODES.get(name) or POSITION_CODES.get(name.replace("е", "ё"))
            if code is None:
                checker.add(
                    line,
                    "positions",
                    t(
                        "people.position_invalid",
                        value=item.strip(),
                        allowed=", ".join(POSITION_NAMES.values()),
                    ),
                )
            elif code not in positions:
                positions.append(code)
        key = _person_key(clean)
        if (
            key is not None
            and not checker.repeated(line, "last_name", seen, key)
            and key in in_school
        ):
            checker.add(line, "last_name", t("import.duplicate_staff"))
        if clean.get("snils"):
            checker.repeated(line, "snils", seen_snils, clean["snils"], SNILS_TWICE)
        plans.append(Plan(line.number, {**clean, "positions": positions, "consent_on": given_on}))
        progress("check", 1, None)
    await _snils_taken(checker, Staff, seen_snils)
    return plans


async def _write_staff(
    actor: Actor, school_id: int, year: dict[str, Any], plans: list[Plan], progress: Progress
) -> list[int]:
    created: list[int] = []
    for plan in plans:
        d = plan.data
        row = Staff(school=school_id, positions=d["positions"], **_columns(d, STAFF_RULES))
        await row.save()
        created.append(int(row.id))
        if d["consent_on"] is not None:
            await _consent(actor, "staff", int(row.id), d["consent_on"]).save()
        progress("write", 1, None)
    return created


async def _check_classes(
    checker: Checker,
    school_id: int,
    year: dict[str, Any],
    lines: list[Line],
    create_classes: bool,
    progress: Progress,
) -> list[Plan]:
    classes = await classes_of_year(year["id"])
    staff = await Staff.select(
        Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name
    ).where(Staff.school == school_id)
    plans: list[Plan] = []
    seen: dict[tuple[int, str], int] = {}
    for line in lines:
        checker.required(line, "class_name")
        key = parse_class_name(line.values.get("class_name", ""))
        if line.values.get("class_name") and key is None:
            checker.add(
                line, "class_name", t("import.class_invalid", value=line.values["class_name"])
            )
        if (
            key is not None
            and not checker.repeated(line, "class_name", seen, key)
            and key in classes
        ):
            checker.add(
                line,
                "class_name",
                t("import.class_exists", value=class_label(*key), year=year["name"]),
            )
        shift = 1
        if line.values.get("shift"):
            if line.values["shift"] in ("1", "2", "3"):
                shift = int(line.values["shift"])
            else:
                checker.add(line, "shift", t("import.shift_invalid"))
        teacher_id = None
        if line.values.get("class_teacher"):
            wanted = _norm_name(line.values["class_teacher"])
            matches = [
                s
                for s in staff
                if _norm_name(
                    " ".join(p for p in (s["last_name"], s["first_name"], s["middle_name"]) if p)
                )
                == wanted
                or _norm_name(f"{s['last_name']} {s['first_name']}") == wanted
            ]
            if len(matches) != 1:
                checker.add(
                    line,
                    "class_teacher",
                    t(
                        "import.teacher_not_found" if not matches else "import.teacher_ambiguous",
                        value=line.values["class_teacher"],
                    ),
                )
            else:
                teacher_id = matches[0]["id"]
        plans.append(Plan(line.number, {"key": key, "shift": shift, "class_teacher": teacher_id}))
        progress("check", 1, None)
    return plans


async def _write_classes(
    actor: Actor, school_id: int, year: dict[str, Any], plans: list[Plan], progress: Progress
) -> list[int]:
    created: list[int] = []
    for plan in plans:
        grade, letter = plan.data["key"]
        row = SchoolClass(
            school=school_id,
            academic_year=year["id"],
            grade=grade,
            letter=letter,
            shift=plan.data["shift"],
            class_teacher=plan.data["class_teacher"],
        )
        await row.save()
        # The class teacher gets the class-teacher role at the new class (nothing to take back).
        await follow_class_teacher(
            actor, int(row.id), None, plan.data["class_teacher"], accounts=None
        )
        created.append(int(row.id))
        progress("write", 1, None)
    return created


CHECKERS: dict[str, Callable[..., Any]] = {
    "pupils": _check_pupils,
    "guardians": _check_guardians,
    "staff": _check_staff,
    "classes": _check_classes,
}
WRITERS: dict[str, Callable[..., Any]] = {
    "pupils": _write_pupils,
    "guardians": _write_guardians,
    "staff": _write_staff,
    "classes": _write_classes,
}


# ---- export --------------------------------------------------------------------------------


def _d(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


async def export_rows(
    actor: Actor, school_id: int, kind: str, *, year_id: int | None = None
) -> tuple[list[str], list[list[str]]]:
    """The header and rows of an export: the import's columns, values in the import's forms.
    Pupils' health columns are included only for someone who may read health data."""
    if kind not in KINDS:
        raise ValidationFailed(key="import.unknown_kind")
    target = await school_target(school_id)
    needed = Permission.STRUCTURE_READ if kind == "classes" else Permission.PERSONAL_FILE_READ
    if actor.principal is not None and not actor.principal.has_permission(needed):
        raise Forbidden()
    ensure(actor, needed, target)
    with_health = actor.principal is None or actor.principal.allows(Permission.HEALTH_READ, target)
    columns = [
        c for c in COLUMNS[kind] if with_health or kind != "pupils" or c.key not in HEALTH_KEYS
    ]
    rows = await EXPORTERS[kind](actor, school_id, year_id)
    return [c.header for c in columns], [[r.get(c.key, "") for c in columns] for r in rows]


async def _consent_dates(subject_kind: str, ids: Iterable[int]) -> dict[int, date]:
    id_list = list(ids)
    if not id_list:
        return {}
    rows = await Consent.select(Consent.subject_id, Consent.given_on, Consent.revoked_on).where(
        (Consent.subject_kind == subject_kind)
        & Consent.subject_id.is_in(id_list)
        & (Consent.kind == "personal_data")
    )
    result: dict[int, date] = {}
    for r in rows:
        if r["revoked_on"] is None and r["given_on"] > result.get(r["subject_id"], date.min):
            result[r["subject_id"]] = r["given_on"]
    return result


@dataclass
class YearMembers:
    """Who is in which class of a year (on today, kept within the year), and the entry that put
    each pupil there: the export's class, admission date and order."""

    labels: dict[int, str]  # class id -> "5А"
    current: dict[int, int | None]  # pupil -> class id
    joined: dict[int, dict[str, Any]]  # pupil -> Enrollment row

    @classmethod
    async def of(cls, year: dict[str, Any]) -> YearMembers:
        from backend.schools.people.movement import classes_on

        labels = {v: class_code(*k) for k, v in (await classes_of_year(year["id"])).items()}
        day = max(min(today(), year["ends_on"]), year["starts_on"])
        entries = await Enrollment.select().where(
            Enrollment.school_class.is_in(list(labels) or [0]) & (Enrollment.date <= day)
        )
        current = await classes_on({e["student"] for e in entries}, day)
        joined: dict[int, dict[str, Any]] = {}
        for e in sorted(entries, key=lambda e: (e["date"], e["id"])):
            if current.get(e["student"]) == e["school_class"]:
                joined[e["student"]] = e
        return cls(labels, current, joined)


async def _export_pupils(actor: Actor, school_id: int, year_id: int | None) -> list[dict[str, str]]:
    year = await year_of(school_id, year_id)
    members = await YearMembers.of(year)
    labels, current, joined = members.labels, members.current, members.joined
    ids = [sid for sid, cid in current.items() if cid in labels]
    students = await Student.select().where(Student.id.is_in(ids or [0]))
    consents = await _consent_dates("student", ids)
    out = []
    for s in sorted(
        students, key=lambda s: (labels[current[s["id"]] or 0], s["last_name"], s["first_name"])
    ):
        e = joined[s["id"]]
        out.append(
            {
                "id": str(s["id"]),
                "last_name": s["last_name"],
                "first_name": s["first_name"],
                "middle_name": s["middle_name"],
                "class_name": labels[current[s["id"]] or 0],
                "admitted_on": _d(e["date"]),
                "order_number": e["order_number"],
                "personal_file_number": s["personal_file_number"],
                "birth_date": _d(s["birth_date"]),
                "sex": s["sex"],
                "citizenship": s["citizenship"],
                "snils": format_snils(s["snils"]) if s["snils"] else "",
                "document_kind": DOCUMENT_NAMES.get(s["document_kind"], ""),
                "document_series": s["document_series"],
                "document_number": s["document_number"],
                "document_issued_on": _d(s["document_issued_on"]),
                "document_issued_by": s["document_issued_by"],
                "registration_address": s["registration_address"],
                "residence_address": s["residence_address"],
                "phone": s["phone"] or "",
                "email": s["email"] or "",
                "health_group": s["health_group"],
                "pe_group": PE_GROUP_NAMES.get(s["pe_group"], ""),
                "consent_on": _d(consents.get(s["id"])),
            }
        )
    await _audit_export(actor, school_id, "pupils", [s["id"] for s in students])
    return out


async def _audit_export(actor: Actor, school_id: int, kind: str, student_ids: list[int]) -> None:
    """An export of personal data is a read of each pupil's file: each is audited, so every
    family sees it among the reads of their child's data."""
    async with transaction():
        for sid in student_ids:
            await record(
                actor,
                AuditAction.READ_PERSONAL,
                object_type=f"export.{kind}",
                object_id=sid,
                school_id=school_id,
                student_id=sid,
            )


async def _export_guardians(
    actor: Actor, school_id: int, year_id: int | None
) -> list[dict[str, str]]:
    from backend.schools.people.movement import classes_on

    year = await year_of(school_id, year_id)
    labels = {v: class_code(*k) for k, v in (await classes_of_year(year["id"])).items()}
    links = (
        await StudentGuardian.select(
            *StudentGuardian.all_columns(),
            *StudentGuardian.guardian.all_columns(),
            StudentGuardian.student.last_name,
            StudentGuardian.student.first_name,
            StudentGuardian.student.middle_name,
            StudentGuardian.student.birth_date,
        )
        .where(StudentGuardian.student.school == school_id)
        .order_by(StudentGuardian.id)
    )
    class_of = await classes_on({link["student"] for link in links}, today())
    consents = await _consent_dates("guardian", {link["guardian"] for link in links})
    out = []
    for link in links:
        g = {k.split(".", 1)[1]: v for k, v in link.items() if k.startswith("guardian.")}
        out.append(
            {
                "last_name": g["last_name"],
                "first_name": g["first_name"],
                "middle_name": g["middle_name"],
                "phone": g["phone"] or "",
                "email": g["email"] or "",
                "snils": format_snils(g["snils"]) if g["snils"] else "",
                "document_kind": DOCUMENT_NAMES.get(g["document_kind"], ""),
                "document_series": g["document_series"],
                "document_number": g["document_number"],
                "address": g["address"],
                "relation": RELATION_NAMES.get(link["relation"], "другое"),
                "is_legal_representative": "да" if link["is_legal_representative"] else "нет",
                "child_last_name": link["student.last_name"],
                "child_first_name": link["student.first_name"],
                "child_middle_name": link["student.middle_name"],
                "child_birth_date": _d(link["student.birth_date"]),
                "child_class": labels.get(class_of.get(link["student"]) or 0, ""),
                "consent_on": _d(consents.get(link["guardian"])),
            }
        )
    await _audit_export(actor, school_id, "guardians", sorted({link["student"] for link in links}))
    return out


async def _export_staff(actor: Actor, school_id: int, year_id: int | None) -> list[dict[str, str]]:
    rows = (
        await Staff.select()
        .where(Staff.school == school_id)
        .order_by(Staff.last_name)
        .order_by(Staff.first_name)
        .output(load_json=True)
    )
    consents = await _consent_dates("staff", [r["id"] for r in rows])
    async with transaction():
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="export.staff",
            object_id=school_id,
            school_id=school_id,
            details={"count": len(rows)},
        )
    return [
        {
            "last_name": r["last_name"],
            "first_name": r["first_name"],
            "middle_name": r["middle_name"],
            "positions": ", ".join(POSITION_NAMES.get(p, p) for p in r["positions"]),
            "birth_date": _d(r["birth_date"]),
            "sex": r["sex"],
            "snils": format_snils(r["snils"]) if r["snils"] else "",
            "phone": r["phone"] or "",
            "email": r["email"] or "",
            "hired_on": _d(r["hired_on"]),
            "consent_on": _d(consents.get(r["id"])),
        }
        for r in rows
    ]


async def _export_classes(
    actor: Actor, school_id: int, year_id: int | None
) -> list[dict[str, str]]:
    year = await year_of(school_id, year_id)
    rows = await SchoolClass.select(
        SchoolClass.grade,
        SchoolClass.letter,
        SchoolClass.shift,
        SchoolClass.class_teacher.last_name,
        SchoolClass.class_teacher.first_name,
        SchoolClass.class_teacher.middle_name,
    ).where(SchoolClass.academic_year == year["id"])
    out = []
    for r in sorted(rows, key=lambda r: (r["grade"], r["letter"])):
        teacher = " ".join(
            p
            for p in (
                r["class_teacher.last_name"],
                r["class_teacher.first_name"],
                r["class_teacher.middle_name"],
            )
            if p
        )
        out.append(
            {
                "class_name": class_code(r["grade"], r["letter"]),
                "shift": str(r["shift"]),
                "class_teacher": teacher,
            }
        )
    return out


EXPORTERS: dict[str, Callable[..., Any]] = {
    "pupils": _export_pupils,
    "guardians": _export_guardians,
    "staff": _export_staff,
    "classes": _export_classes,
}


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    """UTF-8 with a byte order mark and semicolons: what Excel on a Russian desktop opens."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(header: list[str], rows: list[list[str]], title: str = "Данные") -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def export_file(
    actor: Actor, school_id: int, kind: str, fmt: str = "csv", *, year_id: int | None = None
) -> bytes:
    header, rows = await export_rows(actor, school_id, kind, year_id=year_id)
    if fmt == "xlsx":
        return to_xlsx(header, rows, t(f"import.title.{kind}"))
    return to_csv(header, rows)


def template(kind: str) -> list[str]:
    return [c.header for c in COLUMNS[kind]]
