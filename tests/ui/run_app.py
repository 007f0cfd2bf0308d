"""Runs the teacher app in a fresh interpreter with a scenario from `scenarios.py`:
`python -m tests.ui.run_app <scenario> <result.json>`. The environment (PARTA_SERVER,
PARTA_TEACHER_DATA, PARTA_TODAY, PARTA_SCENARIO_ARGS as JSON) says where and what. Kivy's
settings are made before its first import; the result (or the error) is written as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from pathlib import Path


def main() -> int:
    name, out = sys.argv[1], Path(sys.argv[2])
    os.environ.setdefault("PARTA_SYNC_INTERVAL", "0.5")
    from mobile.teacher.config import TeacherConfig, prepare_kivy

    config = TeacherConfig.from_env()
    prepare_kivy(config)
    from mobile.teacher.app import TeacherApp
    from tests.ui import scenarios

    args = json.loads(os.environ.get("PARTA_SCENARIO_ARGS", "{}"))
    result: dict[str, object] = {}

    async def script(app: TeacherApp) -> None:
        try:
            result.update(await getattr(scenarios, name)(app, **args))
        except BaseException as exc:
            result["error"] = "".join(traceback.format_exception(exc))
            result["screen"] = app.screens.current
            result["signin_message"] = app.screens.get_screen("signin").message.text
            if app.failure is not None:
                result["task_failure"] = "".join(traceback.format_exception(app.failure))
            raise

    app = TeacherApp(config, script=script)
    try:
        asyncio.run(app.run_async())
    finally:
        out.write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
