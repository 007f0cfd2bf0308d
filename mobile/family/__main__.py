"""`python -m mobile.family`: the family app on a desktop (a phone-sized window)."""

from __future__ import annotations

import asyncio

from mobile.common import window
from mobile.common.i18n import t
from mobile.family.config import FamilyConfig, prepare_kivy


def main() -> None:
    config = FamilyConfig.from_env()
    window.say_start(t("family.signin.title"), config.server)
    prepare_kivy(config)
    from mobile.family.app import FamilyApp

    asyncio.run(FamilyApp(config).run_async())


if __name__ == "__main__":
    main()
