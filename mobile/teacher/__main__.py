"""`python -m mobile.teacher` (or `parta-teacher`): the teacher app on a desktop or tablet."""

from __future__ import annotations

import asyncio


def main() -> None:
    from mobile.common import window
    from mobile.common.i18n import t
    from mobile.teacher.config import TeacherConfig, prepare_kivy

    config = TeacherConfig.from_env()
    window.say_start(t("signin.title"), config.server)
    prepare_kivy(config)
    from mobile.teacher.app import TeacherApp

    asyncio.run(TeacherApp(config).run_async())


if __name__ == "__main__":
    main()
