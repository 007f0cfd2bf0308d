"""The `parta` command line on a fresh SQLite database: migrate, createadmin, seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def parta(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )


def test_migrate_createadmin_and_seed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env.update(
        PARTA_DATABASE_URL=f"sqlite:///{tmp_path / 'parta.sqlite'}",
        PARTA_REDIS_URL="memory://",
        PARTA_LOG_LEVEL="WARNING",
    )
    migrated = parta("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("Миграции применены: новых — "), migrated.stdout

    weak = parta("createadmin", "--login", "root", env={**env, "PARTA_ADMIN_PASSWORD": "123"})
    assert weak.returncode != 0
    assert "Пароль должен содержать не менее 8 символов." in weak.stderr

    created = parta(
        "createadmin", "--login", "root", env={**env, "PARTA_ADMIN_PASSWORD": "root-password-1"}
    )
    assert created.returncode == 0, created.stderr
    assert "Системный администратор «root» создан." in created.stderr

    again = parta(
        "createadmin", "--login", "root", env={**env, "PARTA_ADMIN_PASSWORD": "root-password-1"}
    )
    assert again.returncode != 0
    assert "Такой логин уже используется" in again.stderr

    seeded = parta("seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "parta-demo" in seeded.stdout


def test_demo_on_a_busy_port_says_so_at_once(tmp_path: Path) -> None:
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = parta("demo", "--port", str(port), "--data-dir", str(tmp_path / "d"), env=env)
    assert result.returncode != 0
    assert f"Порт {port} на 127.0.0.1 уже занят." in result.stderr
    assert not (tmp_path / "d").exists()  # nothing was seeded


def test_serve_on_a_busy_port_names_its_own_option() -> None:
    """`parta serve` on a taken port says so in Russian and suggests `parta serve --port`, not
    the demo's option."""
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env.update(PARTA_SECRET_KEY="s" * 48, PARTA_LOG_LEVEL="WARNING")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = parta("serve", "--host", "127.0.0.1", "--port", str(port), env=env)
    assert result.returncode != 0
    assert f"Порт {port} на 127.0.0.1 уже занят." in result.stderr
    assert f"parta serve --port {port + 1}" in result.stderr
    assert "parta demo" not in result.stderr
