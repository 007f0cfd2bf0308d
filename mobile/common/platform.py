"""What differs between Android and a desktop: push registration and the pushes received,
opening files and URLs.

`current()` picks the implementation once. On Android the push token comes from Firebase
Cloud Messaging through pyjnius (present only in the Android build), and the pushes from the
app's FCM service (`mobile/family/android/src/.../PushService.java`), which writes each into
a file and tells the running app by a broadcast. On a desktop there is no push (a developer or
a test may name a token with PARTA_PUSH_TOKEN and hand the app pushes with `receive_push`),
and files and URLs open with the system's default programs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from mobile.common.api import ApiClient

PushHandler = Callable[[dict[str, str]], None]
PUSH_ACTION = "ru.parta.partafamily.PUSH"  # PushService.ACTION
PUSH_FILE = "parta-pushes.jsonl"  # PushService.FILE, in the app's files directory


class Platform(Protocol):
    name: str

    def push_token(self) -> str | None:
        """The device's push token to register with the server, or None (no push here)."""
        ...

    def listen_pushes(self, handler: PushHandler) -> None:
        """Call `handler` with each push's data (`delivery_id`, ...) the device receives: those
        received while the app was closed at once, the others as they come (maybe on another
        thread: the handler hands them to the app's loop)."""
        ...

    def open_url(self, url: str) -> bool: ...

    def open_file(self, path: Path) -> bool: ...

    def data_dir(self, app_name: str) -> Path: ...


class DesktopPlatform:
    name = "desktop"

    def __init__(self) -> None:
        self._push_handler: PushHandler | None = None

    def push_token(self) -> str | None:
        # Desktops get no push: the app reads its inbox while it is open. A developer or a
        # test may name a token to try the receipt path with `receive_push`.
        return os.environ.get("PARTA_PUSH_TOKEN") or None

    def listen_pushes(self, handler: PushHandler) -> None:
        self._push_handler = handler

    def receive_push(self, data: dict[str, str]) -> bool:
        """What FCM does on a phone: hand the app a push's data. False if nobody listens."""
        if self._push_handler is None:
            return False
        self._push_handler(data)
        return True

    def open_url(self, url: str) -> bool:
        return webbrowser.open(url)

    def open_file(self, path: Path) -> bool:
        if sys.platform.startswith("win"):
            os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 - Windows only
            return True
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            subprocess.Popen([opener, str(path)])  # noqa: S603 - a fixed program, a local path
        except OSError:
            return False
        return True

    def data_dir(self, app_name: str) -> Path:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "parta" / app_name


class AndroidPlatform:
    name = "android"

    def __init__(self) -> None:
        self._token: str | None = None
        self._receiver: Any = None

    def push_token(self) -> str | None:
        """FCM's token (asked once: the first call waits for Google Play services)."""
        if self._token is not None:
            return self._token
        try:
            from jnius import autoclass
        except ImportError:
            return None
        messaging = autoclass("com.google.firebase.messaging.FirebaseMessaging").getInstance()
        task = messaging.getToken()
        tasks = autoclass("com.google.android.gms.tasks.Tasks")
        self._token = str(tasks.await_(task))
        return self._token

    def listen_pushes(self, handler: PushHandler) -> None:
        from android.broadcast import BroadcastReceiver  # python-for-android's helper

        def drain(*_: Any) -> None:
            for data in self.pending_pushes():
                handler(data)

        self._receiver = BroadcastReceiver(drain, actions=[PUSH_ACTION])
        self._receiver.start()
        drain()  # those that came while the app was closed

    def pending_pushes(self) -> list[dict[str, str]]:
        """The pushes PushService wrote down, taken (the file is moved aside first, so a push
        written meanwhile goes to a new file and is taken next time)."""
        path = Path(os.environ.get("ANDROID_PRIVATE", ".")) / PUSH_FILE
        taken = path.with_suffix(".taken")
        try:
            os.replace(path, taken)
        except FileNotFoundError:
            return []
        pushes = []
        for line in taken.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                pushes.append({str(k): str(v) for k, v in data.items()})
        taken.unlink(missing_ok=True)
        return pushes

    def open_url(self, url: str) -> bool:
        return webbrowser.open(url)

    def open_file(self, path: Path) -> bool:
        from jnius import autoclass, cast

        intent_cls = autoclass("android.content.Intent")
        uri = autoclass("android.net.Uri").fromFile(autoclass("java.io.File")(str(path)))
        intent = intent_cls(intent_cls.ACTION_VIEW)
        intent.setData(uri)
        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        cast("android.app.Activity", activity).startActivity(intent)
        return True

    def data_dir(self, app_name: str) -> Path:
        return Path(os.environ.get("ANDROID_PRIVATE", ".")) / app_name


def current() -> Platform:
    if "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ:
        return AndroidPlatform()
    return DesktopPlatform()


async def register_push(api: ApiClient, platform: Platform) -> bool:
    """Tell the server where to push (POST /api/v1/messaging/devices); False when no push."""
    token = await asyncio.to_thread(platform.push_token)  # Android waits for Play services
    if not token:
        return False
    await api.request(
        "POST",
        "/api/v1/messaging/devices",
        None,
        # A desktop given a token stands in for a phone: the server knows FCM's platforms only.
        json={"token": token, "platform": "ios" if platform.name == "ios" else "android"},
        idempotent=True,
    )
    return True
