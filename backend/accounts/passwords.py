"""Password hashing with Argon2id, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.core.errors import ValidationFailed

MIN_LENGTH = 8
_COMMON = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "qwertyui",
        "qwerty123",
        "11111111",
        "00000000",
        "password1",
        "йцукенгш",
        "87654321",
        "iloveyou",
        "parta123",
    }
)


class Passwords:
    """Hashes and checks passwords. `fast=True` lowers the cost for the test suite only."""

    def __init__(self, *, fast: bool = False) -> None:
        self._hasher = (
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            if fast
            else PasswordHasher()
        )
        self._dummy_hash: str | None = None

    @staticmethod
    def check_strength(password: str) -> None:
        if len(password) < MIN_LENGTH:
            raise ValidationFailed(key="auth.password_too_short", min=MIN_LENGTH)
        if password.lower() in _COMMON or len(set(password)) < 3:
            raise ValidationFailed(key="auth.password_too_common")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def _verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(_verify)

    async def burn(self, password: str) -> None:
        """Spend the time a verification would, so an unknown account answers as slowly."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("not-a-password-of-anyone")
        await self.verify(self._dummy_hash, password)
