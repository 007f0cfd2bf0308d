"""ASGI entry for servers: `uvicorn --factory backend.asgi:app_factory` (settings from the env)."""

from litestar import Litestar

from backend.app import create_app
from backend.settings import Settings


def app_factory() -> Litestar:
    return create_app(Settings())
