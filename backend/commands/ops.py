"""`parta backup` and `parta restore` (backend/ops/backup.py; docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from backend.i18n import t
from backend.ops.backup import BackupError, make_backup, prune, restore_backup
from backend.settings import Settings


def _fail(error: BackupError) -> click.ClickException:
    return click.ClickException(t(error.key, **error.params))


@click.command("backup", help=t("cli.help.backup"))
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help=t("cli.option.backup_dir"),
)
@click.option(
    "--keep-daily", type=click.IntRange(min=1), default=None, help=t("cli.option.keep_daily")
)
@click.option(
    "--keep-monthly", type=click.IntRange(min=0), default=None, help=t("cli.option.keep_monthly")
)
def backup_command(
    directory: Path | None, keep_daily: int | None, keep_monthly: int | None
) -> None:
    settings = Settings()
    directory = directory or settings.backup_dir
    now = datetime.now(UTC)
    try:
        made = make_backup(settings, directory, now)
    except BackupError as error:
        raise _fail(error) from None
    click.echo(
        t(
            "ops.backup.made",
            path=str(made.path),
            size=f"{made.database_bytes / 1_048_576:.1f}",
            files=made.media_files,
        )
    )
    gone = prune(
        directory,
        now,
        keep_daily if keep_daily is not None else settings.backup_keep_daily,
        keep_monthly if keep_monthly is not None else settings.backup_keep_monthly,
    )
    for path in gone:
        click.echo(t("ops.backup.pruned", path=str(path)))


@click.command("restore", help=t("cli.help.restore"))
@click.argument("backup", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help=t("cli.option.restore_yes"))
def restore_command(backup: Path, yes: bool) -> None:
    settings = Settings()
    if not yes:
        raise click.UsageError(t("ops.backup.confirm"))
    try:
        manifest = restore_backup(settings, backup)
    except BackupError as error:
        raise _fail(error) from None
    click.echo(t("ops.backup.restored", path=str(backup), created_at=manifest["created_at"]))


@click.command("purge", help=t("cli.help.purge"))
@click.option("--dry-run", is_flag=True, help=t("cli.option.purge_dry_run"))
def purge_command(dry_run: bool) -> None:
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from backend import bootstrap
    from backend.ops.retention import purge

    settings = Settings()

    async def work() -> tuple[object, dict[str, int]]:
        async with bootstrap.running(settings) as parta:
            return await purge(settings, parta.storage, dry_run=dry_run)

    limits, counts = asyncio.run(work())
    table = Table(title=t("ops.retention.would" if dry_run else "ops.retention.done"))
    table.add_column(t("ops.retention.column_table"))
    table.add_column(t("ops.retention.column_rows"), justify="right")
    for name, rows in counts.items():
        table.add_row(t(f"ops.retention.table.{name}"), f"{rows:,}".replace(",", " "))
    console = Console()
    console.print(t("ops.retention.limits", **vars_of(limits)))
    console.print(table)


def vars_of(limits: object) -> dict[str, str]:
    from dataclasses import asdict, is_dataclass

    assert is_dataclass(limits) and not isinstance(limits, type)
    return {k: v.strftime("%d.%m.%Y") for k, v in asdict(limits).items()}
