"""The apps' small theme: colours, sizes and the scale that follows the person's font size.

Plain values, no Kivy import: widgets read them through `sp()` (Kivy's own metrics apply the
device's density on top). `FONT_SCALE` (settings, or `PARTA_FONT_SCALE`) enlarges every text
and touch target together, so the screens stay readable at large font sizes.
"""

from __future__ import annotations

import os

FONT_SCALE = float(os.environ.get("PARTA_FONT_SCALE", "1.0"))

# Colours (RGBA, 0..1): high contrast on a light background.
BACKGROUND = (0.97, 0.97, 0.96, 1)
SURFACE = (1, 1, 1, 1)
TEXT = (0.11, 0.12, 0.14, 1)
TEXT_MUTED = (0.38, 0.40, 0.44, 1)
PRIMARY = (0.10, 0.34, 0.66, 1)
ON_PRIMARY = (1, 1, 1, 1)
BAR = (0.13, 0.27, 0.45, 1)
DIVIDER = (0.85, 0.86, 0.88, 1)

# Attendance and sync states.
PRESENT = (0.90, 0.95, 0.91, 1)
ABSENT = (0.93, 0.36, 0.33, 1)
LATE = (0.97, 0.69, 0.22, 1)
SICK = (0.55, 0.45, 0.80, 1)
STATE_COLOURS = {
    "local": (0.97, 0.69, 0.22, 1),  # saved on the device
    "sending": (0.25, 0.55, 0.90, 1),
    "synced": (0.25, 0.65, 0.35, 1),
    "failed": (0.85, 0.20, 0.20, 1),
    "conflict": (0.75, 0.15, 0.55, 1),
}

# Sizes in sp (scaled by FONT_SCALE).
FONT_BODY = 18
FONT_SMALL = 15
FONT_TITLE = 24
FONT_HUGE = 30
TOUCH = 56  # the least height of anything tapped


def size(value: float) -> float:
    """A text or touch size in sp, scaled for the person's font size."""
    return value * FONT_SCALE
