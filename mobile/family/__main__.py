"""`python -m mobile.family`: the family app on a desktop (a phone-sized window)."""

from __future__ import annotations

import asyncio

from mobile.family.config import FamilyConfig, prepare_kivy


def main() -> None:
    config = FamilyConfig.from_env()
    prepare_kivy(config)
    from mobile.family.app import FamilyApp

    asyncio.run(FamilyApp(config).run_async())


if __name__ == "__main__":
    main()
