"""Fixtures of the staff web's browser tests: one `parta demo` per test worker (it takes a
while to start) and a fresh headless Chromium per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.support import chromium
from tests.demo_server import DemoServer, start_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[DemoServer]:
    server = start_demo(tmp_path_factory.mktemp("demo"), wait_s=420, template=demo_template)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()
