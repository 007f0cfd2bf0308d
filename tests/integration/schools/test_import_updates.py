"""An import corrects the pupils it recognises: an export imports back with no errors and no
changes; edited cells are exactly what a dry run lists and what the import then writes; one bad
line leaves everything as it was."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.people import imports
from backend.schools.tables import Consent, Student
from tests.conftest import Backend
from tests.integration.schools.import_files import as_csv, pupil_rows
from tests.integration.schools.people_world import School, make_school
from tests.support import SignedIn, sign_in, staff_account

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _upload(
    client: httpx.AsyncClient,
    school: School,
    content: bytes,
    who: SignedIn,
    name: str = "pupils.csv",
    *,
    dry_run: bool = False,
) -> httpx.Response:
    mime = XLSX if name.endswith(".xlsx") else CSV
    query = "?dry_run=true" if dry_run else ""
    return await client.post(
        f"/api/v1/schools/{school.school_id}/imports/pupils{query}",
        files={"data": (name, content, mime)},
        headers=who.headers,
    )


async def _export(client: httpx.AsyncClient, school: School, who: SignedIn, fmt: str) -> bytes:
    r = await client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupils?format={fmt}", headers=who.headers
    )
    assert r.status_code == 200, r.text
    return r.content


async def _school_with_pupils(world: Backend) -> tuple[School, SignedIn, SignedIn]:
    """40 pupils imported; 10 of them without SNILS (recognised by their id alone)."""
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    nurse = await sign_in(
        world,
        Grant(Role.NURSE, ScopeKind.SCHOOL, school.school_id),
        Grant(Role.SECRETARY, ScopeKind.SCHOOL, school.school_id),
    )
    rows = pupil_rows(40)
    for row in rows[:10]:
        row["СНИЛС"] = ""
    r = await _upload(world.client, school, as_csv(rows), secretary)
    assert r.status_code == 201 and r.json()["created"] == 40, r.text
    return school, secretary, nurse


async def _stored() -> list[dict[str, Any]]:
    return await Student.select().order_by(Student.id)


def _edit(content: bytes, edits: dict[tuple[int, str], str]) -> bytes:
    """The exported CSV with some cells changed: {(file line, column header): new text}."""
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    for (line, column), value in edits.items():
        rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _json(value: object) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]


async def _updates_audited() -> int:
    return await AuditEntry.count().where(
        (AuditEntry.action == "update") & (AuditEntry.object_type == "student")
    )


async def test_an_export_imports_back_with_no_errors_and_no_changes(world: Backend) -> None:
    school, secretary, nurse = await _school_with_pupils(world)
    before = await _stored()
    consents = await Consent.count()
    # With and without the health columns, as CSV and as XLSX: every line is a pupil on file.
    for who, fmt in ((nurse, "csv"), (nurse, "xlsx"), (secretary, "csv"), (secretary, "xlsx")):
        content = await _export(world.client, school, who, fmt)
        for dry_run in (True, False):
            r = await _upload(world.client, school, content, who, f"pupils.{fmt}", dry_run=dry_run)
            assert r.status_code == 201, r.text
            body = r.json()
            assert body["problems"] == [] and body["changes"] == []
            assert (body["rows"], body["unchanged"]) == (40, 40)
            assert (body["created"], body["would_create"]) == (0, 0)
            assert (body["updated"], body["would_update"]) == (0, 0)
            assert body["imported"] is not dry_run
    assert await _stored() == before
    assert await Consent.count() == consents
    assert await _updates_audited() == 0


async def test_edited_cells_are_listed_by_the_dry_run_then_written(world: Backend) -> None:
    school, _, nurse = await _school_with_pupils(world)
    content = await _export(world.client, school, nurse, "csv")
    header, rows = imports.read_rows(content)
    by_line = dict(rows)
    # The phone of a pupil found by id alone (no SNILS); the address of one found by SNILS.
    no_snils = next(n for n, row in rows if not row[header.index("СНИЛС")])
    with_snils = next(n for n, row in rows if row[header.index("СНИЛС")] and n > no_snils)
    old_phone = by_line[no_snils][header.index("Телефон")]
    old_address = by_line[with_snils][header.index("Адрес проживания")]
    edited = _edit(
        content,
        {
            (no_snils, "Телефон"): "8 (917) 555-12-34",
            (with_snils, "Адрес проживания"): "г. Казань, ул. Пушкина, д. 10",
        },
    )
    before = await _stored()

    dry = await _upload(world.client, school, edited, nurse, dry_run=True)
    assert dry.status_code == 201, dry.text
    body = dry.json()
    assert sorted(body["changes"], key=lambda c: c["line"]) == [
        {"line": no_snils, "column": "Телефон", "old": old_phone, "new": "+79175551234"},
        {
            "line": with_snils,
            "column": "Адрес проживания",
            "old": old_address,
            "new": "г. Казань, ул. Пушкина, д. 10",
        },
    ]
    assert (body["would_update"], body["unchanged"], body["would_create"]) == (2, 38, 0)
    assert body["imported"] is False and body["updated"] == 0
    assert await _stored() == before
    assert await _updates_audited() == 0

    real = await _upload(world.client, school, edited, nurse)
    assert real.status_code == 201, real.text
    assert (real.json()["updated"], real.json()["unchanged"], real.json()["created"]) == (2, 38, 0)
    after = {r["id"]: r for r in await _stored()}
    first_id = int(by_line[no_snils][0])
    second_id = int(by_line[with_snils][0])
    assert after[first_id]["phone"] == "+79175551234"
    assert after[second_id]["residence_address"] == "г. Казань, ул. Пушкина, д. 10"
    # Nobody else and nothing else changed.
    for row in before:
        changed = {k for k in row if row[k] != after[row["id"]][k]} - {"updated_at"}
        expected = {first_id: {"phone"}, second_id: {"residence_address"}}.get(row["id"], set())
        assert changed == expected, (row["id"], changed)
    # Each change is audited as an edit of the personal file: field names, not values.
    entries = await AuditEntry.select().where(
        (AuditEntry.action == "update") & (AuditEntry.object_type == "student")
    )
    details = [(e["student_id"], _json(e["details"])) for e in entries]
    assert {(sid, tuple(d["fields"]), d["via"]) for sid, d in details} == {
        (first_id, ("phone",), "import"),
        (second_id, ("residence_address",), "import"),
    }
    # The same file once more: nothing left to change.
    again = await _upload(world.client, school, edited, nurse, dry_run=True)
    assert again.json()["changes"] == [] and again.json()["unchanged"] == 40


async def test_one_bad_line_changes_nothing(world: Backend) -> None:
    school, secretary, _ = await _school_with_pupils(world)
    content = await _export(world.client, school, secretary, "csv")
    before = await _stored()
    edited = _edit(
        content,
        {
            (5, "Адрес регистрации"): "г. Казань, ул. Новая, д. 1",  # a good change
            (12, "СНИЛС"): "112-233-445 96",  # wrong control number
            (17, "Класс"): "9А",  # a transfer: an order, not an import
            (23, "Код в Парте"): "999999",  # nobody has this id
        },
    )
    r = await _upload(world.client, school, edited, secretary)
    assert r.status_code == 400, r.text
    problems = {(p["line"], p["column"]): p["message"] for p in r.json()["details"]["problems"]}
    assert set(problems) == {(12, "СНИЛС"), (17, "Класс"), (23, "Код в Парте")}
    assert "контрольное число" in problems[(12, "СНИЛС")]
    assert "перевод" in problems[(17, "Класс")] and "приказом" in problems[(17, "Класс")]
    assert "999999" in problems[(23, "Код в Парте")]
    assert await _stored() == before
    assert await _updates_audited() == 0


async def test_a_snils_of_another_pupil_is_refused(world: Backend) -> None:
    school, secretary, _ = await _school_with_pupils(world)
    content = await _export(world.client, school, secretary, "csv")
    header, rows = imports.read_rows(content)
    snils_at = header.index("СНИЛС")
    donor = next(row for _, row in rows if row[snils_at])
    taker = next(n for n, row in rows if row[snils_at] and row[0] != donor[0])
    r = await _upload(
        world.client, school, _edit(content, {(taker, "СНИЛС"): donor[snils_at]}), secretary
    )
    assert r.status_code == 400, r.text
    columns = {(p["line"], p["column"]) for p in r.json()["details"]["problems"]}
    assert (taker, "СНИЛС") in columns


async def test_who_may_not_read_health_does_not_see_the_old_health_group(world: Backend) -> None:
    school, secretary, nurse = await _school_with_pupils(world)
    content = await _export(world.client, school, nurse, "csv")
    edited = _edit(content, {(4, "Группа здоровья"): "III"})
    seen_by = {}
    for who in (nurse, secretary):
        r = await _upload(world.client, school, edited, who, dry_run=True)
        assert r.status_code == 201, r.text
        (change,) = r.json()["changes"]
        seen_by[who.user_id] = (change["line"], change["column"], change["old"], change["new"])
    assert seen_by[nurse.user_id] == (4, "Группа здоровья", "II", "III")
    assert seen_by[secretary.user_id] == (4, "Группа здоровья", "(скрыто)", "III")
