"""`parta gateway` as a process with a ZKTeco panel pointed at it: the panel's upload is answered
`OK` once it is in the outbox file, while the server is unreachable (the passes wait there);
a wrong door setting stops the gateway with a message naming the variable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.demo_server import free_port
from tests.load.bench_notify import ROOT

pytestmark = pytest.mark.e2e

SAMPLE = ROOT / "tests" / "integration" / "access" / "samples" / "zkteco_rtlog.txt"
SERIAL = "CGXH201260012"


def gateway_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    return {
        **env,
        "PARTA_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens: offline
        "PARTA_GATEWAY_ID": "7",
        "PARTA_GATEWAY_KEY": "k" * 43,
        "PARTA_GATEWAY_DB": str(tmp_path / "outbox.sqlite"),
        **extra,
    }


def test_a_panel_posts_to_the_gateway_process_while_the_server_is_unreachable(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = gateway_env(
        tmp_path,
        PARTA_GATEWAY_ZKTECO_LISTEN=f"127.0.0.1:{port}",
        PARTA_GATEWAY_ZKTECO_DOORS=f"{SERIAL}:1=11,{SERIAL}:2=12:out",
        PARTA_GATEWAY_TIME_ZONE="Europe/Moscow",
    )
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "gateway"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a fresh interpreter on a busy machine
        while True:
            assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                registered = httpx.post(f"{base}/iclock/registry?SN={SERIAL}", content=b"x")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the panel server did not start"
                time.sleep(0.2)
        assert registered.text.startswith("RegistryCode=")
        upload = httpx.post(
            f"{base}/iclock/cdata?SN={SERIAL}&table=rtlog", content=SAMPLE.read_bytes()
        )
        assert (upload.status_code, upload.text) == (200, "OK")
        db = sqlite3.connect(tmp_path / "outbox.sqlite")
        try:
            pending = db.execute("SELECT count(*) FROM pending WHERE sent = 0").fetchone()[0]
        finally:
            db.close()
        assert pending == 6  # the server is unreachable: every card pass waits in the outbox
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_wrong_door_setting_stops_the_gateway_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "gateway"],
        env=gateway_env(
            tmp_path,
            PARTA_GATEWAY_ZKTECO_LISTEN=f"127.0.0.1:{free_port()}",
            PARTA_GATEWAY_ZKTECO_DOORS="CGXH:first=11",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "PARTA_GATEWAY_ZKTECO_DOORS" in done.stderr
    assert "Неверное значение" in done.stderr
