"""The `parta` command line: one entry point for running, migrating and seeding Parta.

Settings come from the environment (`PARTA_*`); `parta demo` sets embedded defaults first.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import logging
import os
import shutil
import socket
import sys
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from backend.commands.click_russian import speak_russian
from backend.i18n import t
from backend.settings import Settings

console = Console(stderr=True)
speak_russian()  # Click's usage errors and prompts in Russian (decision 0015)


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def _export_for_piccolo(settings: Settings) -> None:
    """Piccolo's migration runner finds its engine through `backend.piccolo_conf`, which builds
    it from the environment: make the environment say what `settings` says."""
    os.environ["PICCOLO_CONF"] = "backend.piccolo_conf"
    os.environ["PARTA_DATABASE_URL"] = settings.database_url


async def _applied_migrations() -> int:
    """How many migrations the database has recorded (none in a new database)."""
    from piccolo.apps.migrations.tables import Migration

    if not await Migration.table_exists():
        return 0
    return int(await Migration.count())


async def _migrate(settings: Settings) -> tuple[int, int]:
    """Apply every migration; (applied now, recorded in all). Piccolo's own English report
    («👍 4 migrations already complete») is kept off the screen: the caller says it in Russian.
    When a migration fails, Piccolo's report goes to stderr with the error, for the operator."""
    from backend import bootstrap
    from backend.core import db

    _export_for_piccolo(settings)
    engine = db.make_engine(settings)
    db.bind_engine(engine, bootstrap.all_tables())
    before = await _applied_migrations()
    with contextlib.redirect_stdout(io.StringIO()) as said:
        try:
            await bootstrap.migrate()
        except BaseException:
            sys.stderr.write(said.getvalue())
            raise
    after = await _applied_migrations()
    return after - before, after


class _RussianHelp(click.HelpFormatter):
    """Click's own words in a command's help (its headings, the usage line, the notes on
    defaults) from our catalogue: Click takes them from gettext, which has no Russian here."""

    _HEADINGS = {"Options": "cli.heading.options", "Commands": "cli.heading.commands"}
    _NOTES = (("default: ", "cli.note.default"), ("env var: ", "cli.note.env"))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, t("cli.heading.usage") + " " if prefix is None else prefix)

    def section(self, name: str) -> Any:
        key = self._HEADINGS.get(name)
        return super().section(t(key) if key else name)

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(term, self._notes(text)) for term, text in rows], col_max, col_spacing)

    @classmethod
    def _notes(cls, text: str) -> str:
        """ "…  [default: 8000; required]" -> "…  [по умолчанию: 8000; обязательный]"."""
        head, bracket, notes = text.rpartition("  [")
        if not bracket or not notes.endswith("]"):
            return text
        words = []
        for note in notes[:-1].split("; "):
            for english, key in cls._NOTES:
                if note.startswith(english):
                    note = f"{t(key)}: {note[len(english) :]}"
            words.append(t("cli.note.required") if note == "required" else note)
        return f"{head}  [{'; '.join(words)}]"


class _RussianContext(click.Context):
    formatter_class = _RussianHelp


class _Parta(click.Group):
    """The `parta` command: every subcommand, wherever it is defined (backend, the worker's
    entry point), helps in Russian."""

    context_class = _RussianContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _in_russian(self)
        self.subcommand_metavar = t("cli.heading.subcommand")

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _in_russian(cmd)
        super().add_command(cmd, name)


def _in_russian(cmd: click.Command) -> None:
    cmd.context_class = _RussianContext
    cmd.options_metavar = t("cli.heading.options_metavar")
    # Click builds the help option on first use, its text from gettext: ours replaces it.
    build = cmd.get_help_option

    def help_option(ctx: click.Context) -> click.Option | None:
        option = build(ctx)
        if option is not None:
            option.help = t("cli.help_option")
        return option

    cmd.get_help_option = help_option  # type: ignore[method-assign]


@click.group(
    cls=_Parta, help=t("cli.help.parta"), context_settings={"help_option_names": ["-h", "--help"]}
)
def main() -> None:
    """The `parta` command (its help is the catalogue's)."""


def _require_free_port(host: str, port: int) -> None:
    """`parta serve`: say so at once, in words, when the port is taken (instead of the server's
    English error), naming serve's own option. SO_REUSEADDR as the server itself binds: the
    sockets a killed server leaves in TIME_WAIT must not keep it from starting again."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            message = t("cli.serve_port_taken", host=host, port=port, next=port + 1)
            raise click.ClickException(message) from None


@main.command(help=t("cli.help.migrate"))
def migrate() -> None:
    """Apply all database migrations (PARTA_DATABASE_URL)."""

    settings = Settings()
    applied, total = _run(_migrate(settings))
    if applied:
        click.echo(t("cli.migrated", applied=applied, total=total))
    else:
        click.echo(t("cli.migrated_none", total=total))


@main.command(help=t("cli.help.serve"))
@click.option("--host", default=None, help=t("cli.option.host"))
@click.option("--port", default=None, type=int, help=t("cli.option.port"))
@click.option("--workers", default=1, show_default=True, help=t("cli.option.workers"))
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (production: PostgreSQL and Redis from the environment)."""
    import uvicorn

    settings = Settings()
    from backend.bootstrap import token_secret

    try:
        token_secret(settings)
    except ValueError:
        raise click.ClickException(
            "Не задан PARTA_SECRET_KEY (не короче 32 символов). Создайте его, например: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        ) from None
    _require_free_port(host or settings.host, port or settings.port)
    uvicorn.run(
        "backend.asgi:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The forwarded address is read by the app itself, from trusted proxies only
        # (PARTA_TRUSTED_PROXIES); uvicorn would believe any local client.
        proxy_headers=False,
    )


@main.command(help=t("cli.help.createadmin"))
@click.option("--login", required=True, help=t("cli.option.login"))
@click.option(
    "--name",
    "display_name",
    default="Системный администратор",
    show_default=True,
    help=t("cli.option.name"),
)
@click.option("--email", default=None, help=t("cli.option.email"))
@click.option("--phone", default=None, help=t("cli.option.phone"))
def createadmin(login: str, display_name: str, email: str | None, phone: str | None) -> None:
    """Create a system administrator. Password: PARTA_ADMIN_PASSWORD, or asked twice."""

    password = os.environ.get("PARTA_ADMIN_PASSWORD") or ""
    if not password:
        password = getpass.getpass("Пароль: ")
        if getpass.getpass("Ещё раз: ") != password:
            raise click.ClickException("Пароли не совпадают.")
    settings = Settings()

    async def create() -> None:
        from backend import bootstrap
        from backend.core.context import Actor
        from backend.core.errors import DomainError
        from backend.core.rights import Grant, Role, ScopeKind

        async with bootstrap.running(settings) as parta:
            try:
                await parta.accounts.create_user(
                    Actor.system(),
                    password=password,
                    display_name=display_name,
                    login=login,
                    email=email,
                    phone=phone,
                    grants=[Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM)],
                    check_rights=False,
                )
            except DomainError as exc:
                raise click.ClickException(exc.message) from None

    _run(create())
    console.print(t("cli.admin_created", login=login))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


async def _seed(
    settings: Settings,
    schools: int,
    classes_per_grade: int = 3,
    pupils_per_class: int = 25,
    lessons: bool = True,
    journal_weeks: int = 1,
) -> Any:
    from backend import bootstrap
    from backend.accounts.passwords import Passwords
    from backend.i18n import has, t
    from backend.seed import seed_demo

    totals = {
        "school": schools,
        "pupils": schools * 11 * classes_per_grade * pupils_per_class,
    }
    async with bootstrap.running(settings):
        with _progress() as bar:
            tasks: dict[str, Any] = {}

            def progress(kind: str, n: int) -> None:
                if kind not in tasks:
                    label = t(f"seed.progress.{kind}") if has(f"seed.progress.{kind}") else kind
                    tasks[kind] = bar.add_task(label, total=totals.get(kind))
                bar.advance(tasks[kind], n)

            return await seed_demo(
                Passwords(),
                schools=schools,
                classes_per_grade=classes_per_grade,
                pupils_per_class=pupils_per_class,
                lessons=lessons,
                journal_weeks=journal_weeks,
                progress=progress,
            )


def _print_logins(result: Any, url: str | None = None) -> None:
    from backend.seed import DEMO_PASSWORD, describe_logins

    out = Console()
    if url:
        out.print(f"\n[bold]{t('cli.demo_ready', url=url)}[/bold]")
        out.print("  " + t("cli.demo_links", url=url))
    counts = getattr(result, "counts", {}) or {}
    out.print(
        t(
            "seed.summary",
            schools=len(result.school_ids),
            pupils=counts.get("pupils", 0),
            entries=counts.get("timetable_entries", 0),
            lessons=counts.get("lessons", 0),
        )
    )
    out.print(t("cli.demo_logins", password=DEMO_PASSWORD))
    table = RichTable(show_header=True, header_style="bold")
    table.add_column("Роль")
    table.add_column("Логин")
    table.add_column("Имя")
    for role, login, name in describe_logins(result):
        table.add_row(role, login, name)
    out.print(table)
    if url:
        out.print(t("cli.demo_web", url=url))
        out.print(t("cli.demo_apps", url=url))
        out.print(
            f'  Вход: curl -X POST {url}/api/v1/auth/login -H "Content-Type: application/json" '
            f'-d \'{{"identifier": "teacher", "password": "{DEMO_PASSWORD}"}}\'\n'
        )


@main.command(help=t("cli.help.seed"))
@click.option("--schools", default=1, show_default=True, help=t("cli.option.schools"))
@click.option(
    "--classes-per-grade",
    default=3,
    show_default=True,
    type=click.IntRange(1, 10),
    help=t("cli.option.classes_per_grade"),
)
@click.option(
    "--pupils-per-class",
    default=25,
    show_default=True,
    type=click.IntRange(1, 40),
    help=t("cli.option.pupils_per_class"),
)
@click.option("--no-lessons", is_flag=True, help=t("cli.option.no_lessons"))
@click.option(
    "--journal-weeks",
    default=1,
    show_default=True,
    type=click.IntRange(0, 40),
    help=t("cli.option.journal_weeks"),
)
def seed(
    schools: int,
    classes_per_grade: int,
    pupils_per_class: int,
    no_lessons: bool,
    journal_weeks: int,
) -> None:
    """Fill an empty, migrated database with a demo region, realistic schools and accounts."""
    settings = Settings()
    result = _run(
        _seed(
            settings,
            schools,
            classes_per_grade,
            pupils_per_class,
            not no_lessons,
            journal_weeks,
        )
    )
    _print_logins(result)


@main.command(help=t("cli.help.demo"))
@click.option("--host", default="127.0.0.1", show_default=True, help=t("cli.option.host"))
@click.option("--port", default=8000, show_default=True, type=int, help=t("cli.option.port"))
@click.option(
    "--data-dir",
    default=".parta/demo",
    show_default=True,
    type=click.Path(),
    help=t("cli.option.data_dir"),
)
@click.option("--keep", is_flag=True, help=t("cli.option.keep"))
@click.option("--prepare", is_flag=True, help=t("cli.option.prepare"))
def demo(host: str, port: int, data_dir: str, keep: bool, prepare: bool) -> None:
    """Start everything in one process on SQLite with a demo school, and print the logins.
    `--prepare` only makes the demo data and exits: `--keep` starts on it later at once."""
    import uvicorn

    # Hold the port before seeding: nothing else can take it meanwhile, and the banner printed
    # below is true when it appears.
    listener = None if prepare else _hold_port(host, port)
    directory = Path(data_dir)
    fresh = not keep or not (directory / "parta.sqlite").exists()
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PARTA_ENVIRONMENT", "demo")
    os.environ["PARTA_DATABASE_URL"] = f"sqlite:///{(directory / 'parta.sqlite').resolve()}"
    os.environ["PARTA_REDIS_URL"] = "memory://"
    os.environ["PARTA_HOST"], os.environ["PARTA_PORT"] = host, str(port)
    os.environ.setdefault("PARTA_LOG_JSON", "false")
    os.environ.setdefault("PARTA_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PARTA_MEDIA_ROOT", str(directory / "media"))
    settings = Settings()

    _run(_migrate(settings))
    url = f"http://{host}:{port}"
    # Two classes a grade keeps the wait short; `parta seed` makes bigger schools. The journal
    # is filled from 1 September to today, so every report of the term has something to show.
    result = (
        _run(_seed(settings, schools=1, classes_per_grade=2, journal_weeks=_weeks_of_term()))
        if fresh
        else None
    )
    if prepare:
        if result is not None:
            _print_logins(result)
        Console().print(t("cli.demo_prepared", directory=directory))
        return
    assert listener is not None

    from backend.app import create_app
    from backend.core.embedded import companions, with_overrides
    from backend.core.redis import make_redis

    # One in-process Redis shared by the API and the companions (the notifications worker).
    redis = make_redis(settings)
    try:
        extras = companions(settings, redis, directory)
    except ModuleNotFoundError as exc:  # an install without the demo's stand-ins (decision 0031)
        raise click.ClickException(t("cli.demo_needs_standins", module=exc.name)) from None
    settings = with_overrides(settings, extras)
    app = create_app(
        settings,
        redis=redis,
        companions=extras,
        route_handlers=[handler for extra in extras for handler in extra.route_handlers()],
    )
    if result is not None:
        _print_logins(result, url)
    else:
        Console().print(f"Парта запущена: {url} (прежние демо-данные)")
    for extra in extras:
        for line in extra.describe(url):
            Console().print(f"  {line}")
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False)
    try:
        _quiet_on_exit(config).run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn raises Ctrl+C again once it has shut down
        Console().print(t("cli.demo_stopped"))
        raise SystemExit(130) from None
    Console().print(t("cli.demo_stopped"))


def _quiet_on_exit(config: Any) -> Any:
    """The demo's server, which stops quietly on Ctrl+C: once asked to stop, the companions'
    complaints that the others are gone (the MAX client's «long polling failed», backoff's
    «Giving up …») are no news, so records up to ERROR are dropped from then on and one Russian
    line says what is happening. (uvicorn is imported by `demo` alone.)"""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                logging.disable(logging.ERROR)
                Console().print(t("cli.demo_stopping"))
            super().handle_exit(sig, frame)

    return Server(config)


def _hold_port(host: str, port: int) -> socket.socket:
    """Bind and listen on the port at once (connections wait in the backlog until the server
    starts), or say in words that it is taken."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError:
        listener.close()
        message = t("cli.demo_port_taken", host=host, port=port, next=port + 1)
        raise click.ClickException(message) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _weeks_of_term() -> int:
    """Weeks from 1 September of the current school year to today (at least one)."""
    from backend.core.days import today_in

    today = today_in()
    first = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    return max(1, (today - first).days // 7 + 1)


# People lists: `parta import` / `parta export`; lessons: `parta lessons`; turnstiles:
# `parta simulate turnstiles`; `parta backup` / `parta restore` (backend/commands/).
from backend.commands.access import simulate_command  # noqa: E402
from backend.commands.ops import backup_command, purge_command, restore_command  # noqa: E402
from backend.commands.people import export_command, import_command  # noqa: E402
from backend.commands.timetable import lessons_command  # noqa: E402

main.add_command(import_command)
main.add_command(export_command)
main.add_command(lessons_command)
main.add_command(simulate_command)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(purge_command)


def _add_plugin_commands() -> None:
    """Commands of the other processes (`parta worker` from notifications/, later the bot's),
    found through the `parta.commands` entry points: backend never imports those packages."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="parta.commands"):
        main.add_command(entry.load(), entry.name)


_add_plugin_commands()


if __name__ == "__main__":
    main()
