"""Backups of a Parta installation: the database and the media files, and their rotation.

A backup is a folder `parta-<UTC time>` holding
- `database.dump`: `pg_dump --format=custom` of the PostgreSQL database (a consistent snapshot
  taken while the system runs), or `database.sqlite`: SQLite's online backup of the embedded
  database (consistent too, also in WAL mode);
- `media.tar`: the media files (homework attachments, personal files' documents), when any;
- `manifest.json`: the engine, the time, the version and the files' sizes.
Redis is not backed up: it holds queues, limits and caches that the database's outbox and
projections rebuild.

`restore` replaces the database's whole content (and the media folder) with a backup's; the
processes that use the database should be stopped meanwhile. `prune` keeps the newest backup
of each of the last `keep_daily` days and of each of the last `keep_monthly` months.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from backend.settings import Settings

PREFIX = "parta-"
STAMP = "%Y-%m-%dT%H%M%SZ"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore that could not be done; `key` names the message, `params` fill it."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params


@dataclass(frozen=True, slots=True)
class Made:
    path: Path
    database_bytes: int
    media_files: int


def _dsn(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


def _parta_version() -> str:
    try:
        return version("parta")
    except PackageNotFoundError:  # pragma: no cover - a checkout without the package installed
        return "unknown"


def _run(command: list[str], failure: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError("ops.backup.tool_missing", tool=command[0]) from exc
    if done.returncode != 0:
        raise BackupError(failure, detail=(done.stderr or done.stdout).strip()[-2000:])


def make_backup(settings: Settings, directory: Path, now: datetime | None = None) -> Made:
    """Write a new backup folder into `directory` and return it."""
    now = now or datetime.now(UTC)
    target = directory / f"{PREFIX}{now.strftime(STAMP)}"
    if target.exists():
        raise BackupError("ops.backup.exists", path=str(target))
    partial = directory / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        if settings.is_sqlite:
            source = Path(settings.sqlite_path)
            if not source.exists():
                raise BackupError("ops.backup.no_database", path=str(source))
            database = partial / "database.sqlite"
            with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(database)) as dst:
                src.backup(dst)
        else:
            database = partial / "database.dump"
            _run(
                ["pg_dump", "--format=custom", "--no-owner", f"--file={database}", _dsn(settings)],
                "ops.backup.pg_dump_failed",
            )
        media_files = 0
        media = settings.media_root
        if media.is_dir() and any(media.iterdir()):
            with tarfile.open(partial / "media.tar", "w") as archive:
                for path in sorted(media.rglob("*")):
                    if path.is_file():
                        archive.add(path, arcname=str(path.relative_to(media)), recursive=False)
                        media_files += 1
        database_bytes = database.stat().st_size
        manifest = {
            "engine": "sqlite" if settings.is_sqlite else "postgresql",
            "created_at": now.isoformat(),
            "parta": _parta_version(),
            "database": database.name,
            "database_bytes": database_bytes,
            "media_files": media_files,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        partial.rename(target)  # a backup folder exists only once it is whole
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Made(target, database_bytes, media_files)


def read_manifest(backup: Path) -> dict[str, object]:
    try:
        data = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError("ops.backup.not_a_backup", path=str(backup)) from exc
    if not isinstance(data, dict) or data.get("engine") not in ("sqlite", "postgresql"):
        raise BackupError("ops.backup.not_a_backup", path=str(backup))
    return data


def restore_backup(settings: Settings, backup: Path) -> dict[str, object]:
    """Replace the database's content and the media folder with `backup`'s."""
    manifest = read_manifest(backup)
    engine = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest["engine"] != engine:
        raise BackupError("ops.backup.other_engine", backup=manifest["engine"], here=engine)
    database = backup / str(manifest["database"])
    if not database.is_file():
        raise BackupError("ops.backup.not_a_backup", path=str(backup))
    if settings.is_sqlite:
        target = Path(settings.sqlite_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(database)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)  # page by page, inside SQLite's own locking
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={_dsn(settings)}",
                str(database),
            ],
            "ops.backup.pg_restore_failed",
        )
    media = settings.media_root
    archive_path = backup / "media.tar"
    if media.exists():
        shutil.rmtree(media)
    media.mkdir(parents=True, exist_ok=True)
    if archive_path.exists():
        with tarfile.open(archive_path) as archive:
            archive.extractall(media, filter="data")  # no paths outside the folder, no devices
    return manifest


def backups_in(directory: Path) -> list[tuple[datetime, Path]]:
    """The whole backups in `directory`, oldest first."""
    found = []
    for path in directory.glob(f"{PREFIX}*") if directory.is_dir() else []:
        try:
            made = datetime.strptime(path.name[len(PREFIX) :], STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue
        if path.is_dir():
            found.append((made, path))
    return sorted(found)


def to_keep(
    made: Iterable[datetime], now: datetime, keep_daily: int, keep_monthly: int
) -> set[datetime]:
    """Of the backups made at `made`, the ones to keep: the newest of each of the last
    `keep_daily` days and of each of the last `keep_monthly` months (today and this month
    count), and anything from the future (a clock set back must not delete them all)."""
    today = now.date()
    month = today.year * 12 + today.month - 1
    newest_of_day: dict[object, datetime] = {}
    newest_of_month: dict[int, datetime] = {}
    kept: set[datetime] = set()
    for at in made:
        day = at.date()
        if at > now:
            kept.add(at)
            continue
        if (today - day).days < keep_daily:
            newest_of_day[day] = max(at, newest_of_day.get(day, at))
        at_month = day.year * 12 + day.month - 1
        if month - at_month < keep_monthly:
            newest_of_month[at_month] = max(at, newest_of_month.get(at_month, at))
    return kept | set(newest_of_day.values()) | set(newest_of_month.values())


def prune(directory: Path, now: datetime, keep_daily: int, keep_monthly: int) -> list[Path]:
    """Delete the backups `to_keep` does not keep; return the deleted folders."""
    found = backups_in(directory)
    keep = to_keep((at for at, _ in found), now, keep_daily, keep_monthly)
    gone = [path for at, path in found if at not in keep]
    for path in gone:
        shutil.rmtree(path)
    return gone
