"""A stand-in whose port another process took between picking it and binding it listens on
another free port instead of failing (many servers start at once on a busy test machine)."""

from __future__ import annotations

import socket

from notifications.standins.smtp import SmtpStandIn
from notifications.standins.telegram import TelegramStandIn


def _occupied() -> socket.socket:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


async def test_a_taken_port_is_exchanged_for_a_free_one() -> None:
    for standin in (SmtpStandIn(), TelegramStandIn()):
        taken = _occupied()
        try:
            standin.port = taken.getsockname()[1]
            await standin.start()
            try:
                assert standin.port != taken.getsockname()[1]
                with socket.create_connection(("127.0.0.1", standin.port), timeout=5):
                    pass
            finally:
                await standin.stop()
        finally:
            taken.close()
