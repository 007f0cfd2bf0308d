"""What every context's API schemas build on."""

from __future__ import annotations

import msgspec


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """A request body: an unknown field is an error, not ignored."""
