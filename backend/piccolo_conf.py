"""Piccolo's configuration, for its command line (`piccolo migrations ...`) and `parta migrate`.

The engine comes from the same `Settings` the rest of Parta uses (`PARTA_DATABASE_URL`).
"""

from piccolo.conf.apps import AppRegistry

from backend.bootstrap import CONTEXT_MODULES
from backend.core.db import make_engine
from backend.settings import Settings

DB = make_engine(Settings())

APP_REGISTRY = AppRegistry(apps=list(CONTEXT_MODULES))
