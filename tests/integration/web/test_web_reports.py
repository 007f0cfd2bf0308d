"""The reports section of the staff web (/admin/web/reports) through the real app: each report
as a table with its chart and its XLSX and PDF files, the API's rights (officials read the
aggregated reports only), the API's messages for a bad span."""

from __future__ import annotations

import re

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world
from tests.integration.web.test_staff_journal import cell, signed_in
from tests.support import sign_in

REPORTS = ("performance", "attendance", "quality", "at-risk", "completeness")


async def test_the_coordinator_reads_every_report_with_charts_and_files(world: Backend) -> None:
    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    async with signed_in(world, jw.teacher) as client:
        for n, pupil in enumerate(jw.pupils):
            r = await cell(client, jw.lessons["today"], pupil, action="mark", value=str(5 - n % 4))
            assert r.status_code == 200, r.text
        await cell(client, jw.lessons["today"], jw.pupils[0], action="attendance", value="sick")
    async with signed_in(world, jw.coordinator) as client:
        home = await client.get("/admin/web/")
        assert 'href="/admin/web/reports"' in home.text
        index = await client.get("/admin/web/reports/")
        assert index.status_code == 200, index.text
        for key in REPORTS:
            assert f"/admin/web/reports/{key}?school_id={school}" in index.text
        for key in REPORTS:
            page = await client.get(f"/admin/web/reports/{key}", params={"school_id": school})
            assert page.status_code == 200, (key, page.text)
            assert "Скачать XLSX" in page.text and "<svg" in page.text, key
            xlsx = await client.get(
                f"/admin/web/reports/{key}", params={"school_id": school, "format": "xlsx"}
            )
            assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK", key
            assert f'filename="{key}-{school}.xlsx"' in xlsx.headers["content-disposition"]
            pdf = await client.get(
                f"/admin/web/reports/{key}", params={"school_id": school, "format": "pdf"}
            )
            assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-", key
        quality = await client.get("/admin/web/reports/quality", params={"school_id": school})
        assert "5«А»" in quality.text and "Математика" in quality.text
        # Each table's first column has its heading, numbers' headings sit over the numbers,
        # and numbers are written with a decimal comma (tables and the charts' labels).
        for first in ("Класс", "Предмет", "Учитель"):
            assert f'<thead><tr><th>{first}</th><th class="num">Качество' in quality.text
        cells = re.findall(r'<td class="num">([^<]*)</td>', quality.text)
        assert any("," in c for c in cells) and not any("." in c for c in cells), cells
        labels = re.findall(r'<text [^>]*class="value">([^<]*)</text>', quality.text)
        assert labels and not any("." in v for v in labels), labels
        attendance = await client.get("/admin/web/reports/attendance", params={"school_id": school})
        assert "Ученик0 Иван" in attendance.text and "б " in attendance.text
        sheet = await client.get(f"/admin/web/reports/classes/{jw.class_id}")
        assert sheet.status_code == 200 and "Ведомость успеваемости 5«А»" in sheet.text
        assert "<svg" in sheet.text and "Ученик1 Иван" in sheet.text
        pdf = await client.get(f"/admin/web/reports/classes/{jw.class_id}?format=pdf")
        assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"

        # Bad input: the API's Russian messages, naming the field.
        r = await client.get(
            "/admin/web/reports/quality", params={"school_id": school, "format": "doc"}
        )
        assert r.status_code == 400 and "«формат»" in r.text
        r = await client.get(
            "/admin/web/reports/quality", params={"school_id": school, "from": "вчера"}
        )
        assert r.status_code == 400 and "Поле «с» имеет неверный формат." in r.text
        r = await client.get(
            "/admin/web/reports/quality",
            params={"school_id": school, "from": "2026-05-01", "to": "2026-04-01"},
        )
        assert r.status_code == 400 and re.search("[а-я]", r.text)
        r = await client.get("/admin/web/reports/gossip", params={"school_id": school})
        assert r.status_code == 400 and "«отчёт»" in r.text
        r = await client.get("/admin/web/reports/quality", params={"school_id": "x"})
        assert r.status_code == 400 and "«школа»" in r.text
        # Another school's report: nothing (404), as the API.
        r = await client.get("/admin/web/reports/quality", params={"school_id": jw.ids["school_b"]})
        assert r.status_code == 404
    # Reads naming pupils are audited as the API's are.
    assert await AuditEntry.count().where(AuditEntry.school_id == school) > 0


async def test_who_reads_the_reports(world: Backend) -> None:
    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    # A teacher (no reports.read) is refused the section in Russian.
    async with signed_in(world, jw.teacher) as client:
        home = await client.get("/admin/web/")
        assert 'href="/admin/web/reports"' not in home.text
        for path in ("/admin/web/reports/", f"/admin/web/reports/quality?school_id={school}"):
            r = await client.get(path)
            assert r.status_code == 403 and "Отчёты читают завуч" in r.text, path
    # A class teacher reads their class's sheet, not another class's or the school's.
    head = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    async with signed_in(world, head) as client:
        index = await client.get("/admin/web/reports/")
        assert (
            index.status_code == 200 and f"/admin/web/reports/classes/{jw.class_id}" in index.text
        )
        r = await client.get(f"/admin/web/reports/classes/{jw.class_id}")
        assert r.status_code == 200 and "Ученик0" in r.text
        r = await client.get(f"/admin/web/reports/quality?school_id={school}")
        assert r.status_code == 404
    # An official of the region: aggregated reports only.
    official = await sign_in(
        world, Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, jw.ids["region"])
    )
    async with signed_in(world, official) as client:
        index = await client.get(f"/admin/web/reports/?school_id={school}")
        assert index.status_code == 200
        assert f"/admin/web/reports/quality?school_id={school}" in index.text
        assert f"/admin/web/reports/attendance?school_id={school}" not in index.text
        r = await client.get(f"/admin/web/reports/quality?school_id={school}")
        assert r.status_code == 200 and "Качество знаний" in r.text and "Ученик" not in r.text
        r = await client.get(f"/admin/web/reports/attendance?school_id={school}")
        assert r.status_code == 404 and "Ученик" not in r.text
    guardian = await guardian_of(world, jw.pupils[0])
    async with signed_in(world, guardian) as client:
        r = await client.get(f"/admin/web/reports/quality?school_id={school}")
        assert r.status_code == 403 and "Рабочее место открыто только сотрудникам школы" in r.text
