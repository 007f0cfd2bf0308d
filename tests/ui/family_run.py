"""Runs the family app in a fresh interpreter with a scenario of `family_scenarios.py`:
`python -m tests.ui.family_run <scenario> <result.json>`. The environment (PARTA_SERVER,
PARTA_FAMILY_DATA, PARTA_TODAY, PARTA_SCENARIO_ARGS as JSON) says where and what. Kivy's
settings are made before its first import; the result (or the error) is written as JSON.
With PARTA_PROXY=1 the app talks to the server through a proxy the scenario can cut (the
network drops)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from pathlib import Path


def main() -> int:
    name, out = sys.argv[1], Path(sys.argv[2])
    from mobile.family.config import FamilyConfig, prepare_kivy

    config = FamilyConfig.from_env()
    proxy = None
    if os.environ.get("PARTA_PROXY") == "1":
        from tests.ui.netproxy import Proxy

        proxy = Proxy(config.server)
        config.server = proxy.start()
    prepare_kivy(config)
    from mobile.family.app import FamilyApp
    from tests.ui import family_scenarios

    args = json.loads(os.environ.get("PARTA_SCENARIO_ARGS", "{}"))
    result: dict[str, object] = {}

    async def script(app: FamilyApp) -> None:
        app.proxy = proxy  # type: ignore[attr-defined]
        try:
            result.update(await getattr(family_scenarios, name)(app, **args))
            if app.failure is not None:
                raise app.failure
        except BaseException as exc:
            result["error"] = "".join(traceback.format_exception(exc))
            raise

    app = FamilyApp(config, script=script)
    try:
        asyncio.run(app.run_async())
    finally:
        if proxy is not None:
            proxy.stop()
        out.write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
