"""Which files a homework may carry, and the type each is served as.

Families open these files on home computers and phones, so a homework carries documents,
pictures, sound, video and archives, never programs or web pages: an `.exe`, `.bat`, `.js` or
`.html` is refused, and so is a program renamed to look like a document (its first bytes give it
away). The type a file is served as follows from its name, never from what the uploader's
browser claimed, so a file cannot pass itself off as a page the browser would run.
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
