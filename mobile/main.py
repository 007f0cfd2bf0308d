"""Android entry point of the apps (python-for-android starts `main.py` at the top of the
packaged directory, which is `mobile/` itself): that directory is made importable as the
`mobile` package, then the app runs as `python -m mobile.family` would on a desktop. Each
app's buildozer.spec leaves the other app out, so the app packed is the one that starts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _as_package() -> None:
    here = Path(__file__).resolve().parent
    if "mobile" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "mobile", here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mobile"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    _as_package()
    if (Path(__file__).resolve().parent / "family").is_dir():
        from mobile.family.__main__ import main
    else:
        from mobile.teacher.__main__ import main
    main()
