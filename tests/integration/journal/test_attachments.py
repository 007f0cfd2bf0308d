"""Homework files: the form must carry its file part, and the content must be what its name
says (a web page or a program renamed `.pdf` is refused)."""

from __future__ import annotations

import pytest

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
    assert body["message"] == "Не заполнено обязательное поле «файл (часть data)»."
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


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ZIP = b"PK\x03\x04" + b"\x00" * 40
PAGE = b"<!DOCTYPE html><html><body><script>steal()</script></body></html>"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("задание.pdf", PAGE),
        ("задание.pdf", b"just some words, not a document"),
        ("notes.txt", b"  <html><script>alert(1)</script></html>"),
        ("notes.txt", b"\x00\x01\x02binary\xff\xfe"),
        ("photo.jpg", PDF),
        ("work.docx", PDF),
        ("book.fb2", PAGE),
    ],
)
async def test_content_that_is_not_what_its_name_says_is_refused(
    world: Backend, name: str, content: bytes
) -> None:
    jw = await make_journal_world(world)
    url = f"/api/v1/journal/lessons/{jw.lessons['today']}/attachments"
    response = await world.client.post(
        url, files={"data": (name, content, "application/pdf")}, headers=jw.teacher.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "data"
    assert f"«{name}»" in response.json()["message"]
    assert "не соответствует" in response.json()["message"]
    assert await Attachment.count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("задание.pdf", PDF),
        ("photo.jpg", PNG),  # a picture renamed to another picture's suffix is still a picture
        ("work.docx", ZIP),
        ("notes.txt", "Прочитать §12\nи ответить".encode("cp1251")),
        ("list.csv", "Фамилия;Имя\n".encode()),
    ],
)
async def test_content_that_matches_its_name_is_taken(
    world: Backend, name: str, content: bytes
) -> None:
    jw = await make_journal_world(world)
    url = f"/api/v1/journal/lessons/{jw.lessons['today']}/attachments"
    response = await world.client.post(
        url, files={"data": (name, content, "text/html")}, headers=jw.teacher.headers
    )
    assert response.status_code == 201, response.text


async def test_a_file_name_with_a_control_character_is_refused(world: Backend) -> None:
    jw = await make_journal_world(world)
    url = f"/api/v1/journal/lessons/{jw.lessons['today']}/attachments"
    for name in ("a\x00.pdf", "fdp.\u202eexe.pdf"):
        # Written by hand: httpx would percent-encode the NUL of the file name.
        body = (
            b'--b\r\nContent-Disposition: form-data; name="data"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: application/pdf\r\n\r\n'
            + PDF
            + b"\r\n--b--\r\n"
        )
        response = await world.client.post(
            url,
            content=body,
            headers={**jw.teacher.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert response.status_code == 400, (name, response.text)
        assert response.json()["details"][0]["field"] == "data"
    assert await Attachment.count() == 0
