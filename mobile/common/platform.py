"""What differs between Android and a desktop: push registration, opening files and URLs.

`current()` picks the implementation once. On Android the push token comes from Firebase
Cloud Messaging through pyjnius (present only in the Android build); on a desktop there is no
push and files and URLs open with the system's default programs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import webbrowser
from pathlib import Path
from typing import Protocol

from mobile.common.api import ApiClient


class Platform(Protocol):
    name: str

    def push_token(self) -> str | None:
        """The device's push token to register with the server, or None (no push here)."""
        ...

    def open_url(self, url: str) -> bool: ...

    def open_file(self, path: Path) -> bool: ...

    def data_dir(self, app_name: str) -> Path: ...


class DesktopPlatform:
    name = "desktop"

    def push_token(self) -> str | None:
        return None  # desktops get no push: the app reads its inbox while it is open

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

    def push_token(self) -> str | None:
        try:
            from jnius import autoclass
        except ImportError:
            return None
        messaging = autoclass("com.google.firebase.messaging.FirebaseMessaging").getInstance()
        task = messaging.getToken()
        tasks = autoclass("com.google.android.gms.tasks.Tasks")
        return str(tasks.await_(task))

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
    token = platform.push_token()
    if not token:
        return False
    await api.request(
        "POST",
        "/api/v1/messaging/devices",
        None,
        json={"token": token, "platform": platform.name},
        idempotent=True,
    )
    return True
