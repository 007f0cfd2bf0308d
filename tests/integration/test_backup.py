"""`parta backup` → wipe → `parta restore` gives back every row of every table and every media
file, on each engine (issue 21: backups), run as an operator runs them: as commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend import bootstrap
from backend.accounts.tables import User
from backend.core import db
from backend.core.rights import Role, ScopeKind
from tests.conftest import Backend, _truncate
from tests.integration.journal.arrange import attendance, make_journal_world, mark
from tests.support import grant, make_user, parta, sign_in


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in id order."""
    return {
        table._meta.tablename: await table.select().order_by(table._meta.primary_key)
        for table in bootstrap.all_tables()
    }


async def test_a_backup_restores_every_table_and_file_after_a_wipe(
    world: Backend, tmp_path: Path
) -> None:
    jw = await make_journal_world(world, pupils=6)
    ops = [
        attendance(f"a{n}", p, "absent" if n == 0 else "present") for n, p in enumerate(jw.pupils)
    ]
    ops += [mark(f"m{n}", p, "5") for n, p in enumerate(jw.pupils[:3])]
    saved = await world.client.post(
        f"/api/v1/journal/lessons/{jw.lessons['today']}/sync",
        json={"operations": ops, "base_version": 1},
        headers=jw.teacher.headers,
    )
    assert saved.status_code == 200, saved.text
    # money: a cash top-up (ledger entries are append-only in the database itself)
    admin = await sign_in(world, grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, jw.ids["school_a"]))
    top_up = await world.client.post(
        f"/api/v1/meals/pupils/{jw.pupils[0]}/cash-top-ups",
        json={"amount": 50_000, "idempotency_key": "cash-0001", "comment": "Касса"},
        headers=admin.headers,
    )
    assert top_up.status_code == 201, top_up.text
    await world.app.state.diary_weeks.settled()  # the diary's weeks are rebuilt behind saves
    media = world.settings.media_root
    attachment = media / "homework" / "2026" / "задание.pdf"
    attachment.parent.mkdir(parents=True, exist_ok=True)
    attachment.write_bytes(b"%PDF-1.4 the homework")
    before = await snapshot()
    assert sum(len(rows) for rows in before.values()) > 60
    assert before["mark"] and before["ledger_transfer"] and before["audit_entry"]

    made = await asyncio.to_thread(parta, world, "backup", "--dir", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    [backup] = sorted((tmp_path / "backups").iterdir())
    assert backup.name.startswith("parta-")
    assert {p.name for p in backup.iterdir()} >= {"manifest.json", "media.tar"}

    refused = await asyncio.to_thread(parta, world, "restore", str(backup))
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert await snapshot() == before  # nothing was touched without --yes

    await _truncate(world)  # the wipe
    await make_user(world, login="after-the-backup")  # a row the restore must take away
    for path in sorted(media.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()

    restored = await asyncio.to_thread(parta, world, "restore", str(backup), "--yes")
    assert restored.returncode == 0, restored.stderr
    if world.kind == "postgres":
        # pooled connections keep plans of the tables the restore dropped and made again
        await db.close_engine(world.engine)
        await db.open_engine(world.engine, world.settings)

    after = await snapshot()
    assert {name: len(rows) for name, rows in after.items()} == {
        name: len(rows) for name, rows in before.items()
    }
    assert after == before
    assert attachment.read_bytes() == b"%PDF-1.4 the homework"
    assert await User.exists().where(User.login == "after-the-backup") is False

    # the identities go on from where they were: a new row does not collide with a restored one
    new_id, _ = await make_user(world, login="after-the-restore")
    assert new_id > max(row["id"] for row in before["account_user"])


async def test_a_backup_of_one_engine_is_refused_on_the_other(
    world: Backend, tmp_path: Path
) -> None:
    backup = tmp_path / "parta-2026-12-01T030000Z"
    backup.mkdir()
    other = "sqlite" if world.kind == "postgres" else "postgresql"
    (backup / "manifest.json").write_text(
        f'{{"engine": "{other}", "database": "database.x", "created_at": "2026-12-01"}}'
    )
    (backup / "database.x").write_bytes(b"")
    before = await snapshot()
    done = await asyncio.to_thread(parta, world, "restore", str(backup), "--yes")
    assert done.returncode == 1
    assert "Копия сделана с базы" in done.stderr
    assert await snapshot() == before
