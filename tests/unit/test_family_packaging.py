"""The family app's Android build configuration reads as buildozer reads it (an INI file):
a portrait phone app whose packaged directory holds the entry point and the catalogue."""

from __future__ import annotations

import configparser
from pathlib import Path

SPEC = Path(__file__).resolve().parents[2] / "mobile" / "family" / "buildozer.spec"


def test_buildozer_spec_builds_the_family_app_in_portrait() -> None:
    spec = configparser.ConfigParser()
    spec.read(SPEC, encoding="utf-8")
    app = spec["app"]
    assert app["orientation"] == "portrait"
    assert app["package.name"] == "partafamily"
    source = (SPEC.parent / app["source.dir"]).resolve()
    assert (source / "main.py").is_file()  # python-for-android starts main.py
    assert (source / "family" / "app.py").is_file()
    assert (source / "i18n" / "ru.toml").is_file()
    assert "toml" in app["source.include_exts"].split(",")
    requirements = app["requirements"].split(",")
    assert "kivy==2.3.1" in requirements and "msgspec" in requirements
    assert "INTERNET" in app["android.permissions"]
    assert "teacher" in app["source.exclude_dirs"].split(",")


def test_the_fcm_service_is_packed_and_declared() -> None:
    """Decision 0722: the Java service FCM starts, and its <service> element, are where the
    spec says (the build itself needs the Android SDK, absent here)."""
    spec = configparser.ConfigParser()
    spec.read(SPEC, encoding="utf-8")
    app = spec["app"]
    source = SPEC.parent / app["android.add_src"]
    service = source / "ru" / "parta" / "partafamily" / "PushService.java"
    assert "extends FirebaseMessagingService" in service.read_text(encoding="utf-8")
    manifest = (SPEC.parent / app["android.extra_manifest_application_arguments"]).read_text()
    assert 'android:name="ru.parta.partafamily.PushService"' in manifest
    assert "com.google.firebase.MESSAGING_EVENT" in manifest
    assert "firebase-messaging" in app["android.gradle_dependencies"]
    assert "tzdata" in app["requirements"].split(",")  # zoneinfo on a phone
