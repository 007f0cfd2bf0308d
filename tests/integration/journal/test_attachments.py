"""Homework files: the form must carry its file part, and the content must be what its name
says (a web page or a program renamed `.pdf` is refused)."""

from __future__ import annotations

from backend.journal.tables import Attachment
from tests.conftest import Backend
from tests.integration.journal.arrange import make_journal_world


async def test_a_form_without_its_file_part_names_the_part(world: Backend) -> None:
    jw = await make_journal_world(world)
    url = f"/api/v1/journal/lessons/{jw.lessons['today']}/attachments"
    missing = await world.client.post(
        url,
        files={"other": ("x.pdf", b"%PDF-1.4\n", "application/pdf")},
        headers=jw.teacher.headers,
    )
    assert missing.status_code == 400, missing.text
    body = missing.json()
    assert body["error"] == "validation_error"
    assert body["details"][0]["field"] == "data"
    assert "«data»" in body["message"]
    text_instead = await world.client.post(
        url, files={"data": (None, "просто текст")}, headers=jw.teacher.headers
    )
    assert text_instead.status_code == 400, text_instead.text
    assert text_instead.json()["message"] == (
        "Часть «data» формы должна быть файлом (multipart/form-data)."
    )
    empty_form = await world.client.post(
        url,
        content=b"--b--\r\n",
        headers={**jw.teacher.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert empty_form.status_code == 400, empty_form.text
    assert empty_form.json()["details"][0]["field"] == "data"
    not_a_form = await world.client.post(
        url,
        content=b"garbage",
        headers={**jw.teacher.headers, "Content-Type": "multipart/form-data"},
    )
    assert not_a_form.status_code == 400, not_a_form.text
    assert not_a_form.json()["details"][0]["field"] == "data"
    assert await Attachment.count() == 0
