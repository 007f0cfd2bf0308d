"""Which files a homework may carry, and the type each is served as.

Families open these files on home computers and phones, so a homework carries documents,
pictures, sound, video and archives, never programs or web pages: an `.exe`, `.bat`, `.js` or
`.html` is refused, and so is a program renamed to look like a document (its first bytes give it
away). The type a file is served as follows from its name, never from what the uploader's
browser claimed, so a file cannot pass itself off as a page the browser would run.

The content must also be what the name says (`matches_name`): each allowed suffix has fixed
first bytes (a table below: the list of suffixes is closed and short, and text files need a
decoding check no signature library makes, so a dependency would not earn its place). Pictures
may wear another picture's suffix, sound and video another's of their family (people rename
them, and a player or viewer reads them by content); documents and archives must match. A text
(`txt`, `csv`) must decode as UTF-8 or Windows-1251, hold no NUL and not be a web page.
"""

from __future__ import annotations

_DOCUMENTS = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "rtf": "application/rtf",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "djvu": "image/vnd.djvu",
    "epub": "application/epub+zip",
    "fb2": "application/x-fictionbook+xml",
}
_MEDIA = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "bmp": "image/bmp",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}
_ARCHIVES = {"zip": "application/zip", "7z": "application/x-7z-compressed"}

FILE_TYPES: dict[str, str] = {**_DOCUMENTS, **_MEDIA, **_ARCHIVES}

# First bytes of programs: Windows (MZ), Linux (ELF), macOS (Mach-O) and scripts (#!).
_PROGRAM_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"#!",
)


# Signatures: (offset, bytes). "ftyp" boxes name the ISO media kind at offset 8.
_ZIP = ((0, b"PK\x03\x04"),)
_OLE2 = ((0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),)
_PICTURES = (
    (0, b"\xff\xd8\xff"),
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
    (4, b"ftypheic"),
    (4, b"ftypheix"),
    (4, b"ftypmif1"),
    (4, b"ftypmsf1"),
)
_WEBP = ((0, b"RIFF"),)  # and "WEBP" at 8: checked below
_SOUND_AND_VIDEO = (
    (0, b"ID3"),
    (0, b"\xff\xfb"),
    (0, b"\xff\xf3"),
    (0, b"\xff\xf2"),
    (0, b"\xff\xf1"),  # AAC in ADTS
    (0, b"OggS"),
    (0, b"RIFF"),  # WAV ("WAVE" at 8)
    (0, b"\x1aE\xdf\xa3"),  # WebM / Matroska
    (4, b"ftyp"),  # MP4, M4A, MOV
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"wide"),
    (4, b"free"),
)
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "pdf": ((0, b"%PDF-"),),
    "doc": _OLE2,
    "xls": _OLE2,
    "ppt": _OLE2,
    "docx": _ZIP,
    "xlsx": _ZIP,
    "pptx": _ZIP,
    "odt": _ZIP,
    "ods": _ZIP,
    "odp": _ZIP,
    "epub": _ZIP,
    "zip": _ZIP,
    "7z": ((0, b"7z\xbc\xaf\x27\x1c"),),
    "rtf": ((0, b"{\\rtf"),),
    "djvu": ((0, b"AT&TFORM"),),
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "bmp", "heic", "webp"), _PICTURES + _WEBP),
    **dict.fromkeys(("mp3", "m4a", "ogg", "wav", "mp4", "mov", "webm"), _SOUND_AND_VIDEO),
}
_KIND_NAMES = {
    "pdf": "PDF",
    "doc": "документ Word",
    "xls": "таблицу Excel",
    "ppt": "презентацию PowerPoint",
    "txt": "текст",
    "csv": "таблицу CSV",
    "fb2": "книгу FB2",
}
_PAGE_MARKS = (b"<!doctype html", b"<html", b"<script", b"<svg", b"<?php", b"<head", b"<body")


def _looks_like_page(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(_PAGE_MARKS) or any(mark in start[:1024] for mark in _PAGE_MARKS[:3])


def _readable_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def kind_name(suffix: str) -> str:
    """What a person calls a file of this suffix, for messages: «PDF», «текст», «файл .docx»."""
    return _KIND_NAMES.get(suffix, f"файл .{suffix}")


def matches_name(file_name: str, data: bytes) -> bool:
    """Whether the content is what the name's suffix says (see the module's docstring)."""
    suffix = extension(file_name)
    head = data[:4096]
    if suffix in ("txt", "csv"):
        return _readable_text(data) and not _looks_like_page(head)
    if suffix == "fb2":
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith(b"<?xml") and b"<FictionBook" in head and b"<script" not in head
    signatures = _SIGNATURES.get(suffix)
    if signatures is None:
        return False
    if not any(head[offset : offset + len(magic)] == magic for offset, magic in signatures):
        return False
    # RIFF holds pictures (WEBP), sound (WAVE) and video (AVI), and nothing else we take.
    return not (head.startswith(b"RIFF") and head[8:12] not in (b"WEBP", b"WAVE", b"AVI "))


def extension(file_name: str) -> str:
    """The name's last suffix in lower case, without the dot ("" when there is none)."""
    base = file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base.strip(".") else ""


def file_type(file_name: str) -> str | None:
    """The type this file is served as, or None when a homework may not carry it."""
    return FILE_TYPES.get(extension(file_name))


def looks_like_program(data: bytes) -> bool:
    return data.startswith(_PROGRAM_MAGIC)


def allowed_list() -> str:
    """The suffixes a person may attach, for the refusal's message: «pdf, doc, docx, …»."""
    return ", ".join(FILE_TYPES)
