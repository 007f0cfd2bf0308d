"""ZKTeco access controllers (inBio / C3 panels and the controller boards of ZKTeco
turnstiles) over their "Security PUSH" protocol (PUSH protocol 3.1.2): the controller is set up
with this gateway as its server, and posts every pass to it over HTTP as it happens, resending
what was not acknowledged. Where the format comes from: docs/decisions/0904-zkteco-push-adapter.md.

A pass arrives as ``POST /iclock/cdata?SN=<serial>&table=rtlog`` whose body holds one record a
line, tab-separated ``key=value`` pairs::

    time=2026-09-01 07:58:03<TAB>pin=1024<TAB>cardno=4194967<TAB>eventaddr=1<TAB>event=0
    <TAB>inoutstatus=0<TAB>verifytype=4<TAB>index=381

`time` is the controller's local clock; `eventaddr` the door (reader) number on the panel;
`event` what happened (0 "Normal Punch Open" ... 27 "Unregistered Card", see `GRANTED` and
`DENIED`); `inoutstatus` 0 entry, 1 exit, 2 none; `cardno` the card number as the panel
keeps it (decimal); `index` the record's number in the panel's log. The gateway answers
``OK`` only after the passes are in its outbox, so a pass is never acknowledged and then lost:
a controller that got no ``OK`` sends the record again, and the outbox keeps it once (its id
is the serial, the record's index and its time).

Records that are not passes of a card (door sensor, exit button, alarms, fingerprint or
password only) are acknowledged and not kept: Parta's log is of cards. A card pass on a door
this gateway was not told about is kept with access point 0: the server refuses it as
malformed and the gateway sets it aside for the operator (never silently dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from gateway.events import ControllerEvent
from gateway.outbox import Outbox

log = logging.getLogger("parta.gateway.zkteco")

# Event codes of a card presented at a reader (the panel's event table).
GRANTED = {
    0: "Normal Punch Open",
    1: "Punch during Normal Open Time Zone",
    2: "First Card Normal Open (Punch Card)",
    3: "Multi-Card Open (Punching Card)",
    17: "Card plus Fingerprint Open",
    203: "Multi-Card Open (Card plus Fingerprint)",
}
DENIED = {
    20: "Too Short Punch Interval",
    21: "Door Inactive Time Zone (Punch Card)",
    22: "Illegal Time Zone",
    23: "Access Denied",
    24: "Anti-Passback",
    25: "Interlock",
    26: "Multi-Card Authentication (Punching Card)",
    27: "Unregistered Card",
    29: "Card Expired",
}
DIRECTIONS = {"0": "in", "1": "out"}  # inoutstatus; 2 ("none") takes the door's own
MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class Door:
    access_point_id: int
    direction: str = "in"  # for a record whose inoutstatus says neither


@dataclass
class ZktecoConfig:
    doors: Mapping[tuple[str, int], Door]  # (serial, door number) -> access point
    time_zone: ZoneInfo
    card_format: str = "wiegand34"  # how the panels print `cardno` (10-digit decimal)
    name: str = "zk"


@dataclass
class Parsed:
    events: list[ControllerEvent] = field(default_factory=list)
    skipped: int = 0  # records that are not card passes
    malformed: int = 0


def parse_record(line: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in line.strip("\r\n").split("\t"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields


def parse_rtlog(serial: str, body: str, config: ZktecoConfig) -> Parsed:
    """The card passes in one `rtlog` upload from the panel `serial`."""
    parsed = Parsed()
    for line in body.splitlines():
        if not line.strip():
            continue
        record = parse_record(line)
        try:
            event = int(record["event"])
            moment = datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S")
            door = int(record.get("eventaddr") or 0)
        except (KeyError, ValueError):
            parsed.malformed += 1
            log.warning("an rtlog record of %s could not be read: %r", serial, line[:200])
            continue
        card = (record.get("cardno") or "").strip()
        if event in GRANTED:
            result = "granted"
        elif event in DENIED:
            result = "denied"
        else:
            parsed.skipped += 1
            continue
        if not card or card.strip("0") == "":
            parsed.skipped += 1  # fingerprint, password or exit button: no card
            continue
        known = config.doors.get((serial, door))
        default = known.direction if known else "in"
        direction = DIRECTIONS.get(record.get("inoutstatus", ""), default)
        stamp = moment.strftime("%Y%m%d%H%M%S")
        parsed.events.append(
            ControllerEvent(
                device_event_id=f"{config.name}:{serial}:{record.get('index', '')}:{stamp}"[:64],
                card=card,
                card_format=config.card_format,
                access_point_id=known.access_point_id if known else 0,
                direction=direction,
                result=result,
                controller_time=moment.replace(tzinfo=config.time_zone),
            )
        )
    return parsed


def registry_code(serial: str) -> str:
    return hashlib.sha256(f"parta:{serial}".encode()).hexdigest()[:10]


def push_options(serial: str) -> str:
    """The server's options a panel reads after registering (`/iclock/push`, or the older
    `GET /iclock/cdata?options=all`): upload passes as they happen, retry after 30 s."""
    return "\n".join(
        (
            f"RegistryCode={registry_code(serial)}",
            "ServerVersion=3.1.2",
            "ServerName=Parta",
            "PushProtVer=3.1.2",
            "ErrorDelay=30",
            "RequestDelay=2",
            "TransTimes=00:00\t12:00",
            "TransInterval=1",
            "Realtime=1",
            "TimeoutSec=10",
            "",
        )
    )


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ZktecoPushAdapter:
    """The gateway's side of the PUSH protocol: an HTTP server (an ASGI app run by uvicorn)
    that the school's ZKTeco panels post to. Passes go straight into the outbox; `read` has
    nothing to poll."""

    def __init__(self, config: ZktecoConfig, outbox: Outbox) -> None:
        self.config, self.outbox, self.name = config, outbox, config.name
        self.stored = 0

    async def read(self, position: str | None) -> tuple[list[ControllerEvent], str | None]:
        return [], position

    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, str]:
        """One request of a panel: (status, plain-text answer)."""
        params = {k.lower(): v[0] for k, v in parse_qs(query).items()}
        serial = params.get("sn", "")
        if not path.startswith("/iclock/") or not serial:
            return 404, "UNKNOWN DEVICE"
        endpoint = path.rstrip("/").removeprefix("/iclock/")
        if endpoint == "registry":
            return 200, f"RegistryCode={registry_code(serial)}\n"
        if endpoint == "push" or (endpoint == "cdata" and method == "GET"):
            return 200, push_options(serial)
        if endpoint == "cdata" and method == "POST":
            if params.get("table", "").lower() != "rtlog":
                return 200, "OK"  # door states, user lists...: not kept here
            text = body.decode("utf-8", errors="replace")
            parsed = parse_rtlog(serial, text, self.config)
            if parsed.events:
                self.stored += self.outbox.add(parsed.events)
            return 200, "OK"
        if endpoint in ("getrequest", "ping", "devicecmd", "querydata"):
            return 200, "OK"  # no commands for the panels
        return 404, "UNKNOWN"

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if len(body) > MAX_BODY:
                await self._answer(send, 413, "TOO LARGE")
                return
            if not message.get("more_body"):
                break
        try:
            status, text = await asyncio.to_thread(
                self.handle,
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                bytes(body),
            )
        except Exception:  # the outbox could not take them: no OK, the panel resends
            log.exception("an upload of a panel could not be kept")
            status, text = 503, "ERROR"
        await self._answer(send, status, text)

    @staticmethod
    async def _answer(send: Send, status: int, text: str) -> None:
        data = text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def serve(self, host: str, port: int, stop: asyncio.Event) -> None:
        import uvicorn

        class PanelServer(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # signals stay the gateway's to handle

        server = PanelServer(
            uvicorn.Config(
                self, host=host, port=port, lifespan="off", log_level="warning",
                access_log=False,
            )
        )  # fmt: skip
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task


def parse_doors(text: str) -> dict[tuple[str, int], Door]:
    """``SERIAL:DOOR=POINT[:in|out],...`` (PARTA_GATEWAY_ZKTECO_DOORS) into the door map."""
    doors: dict[tuple[str, int], Door] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        where, _, point = item.partition("=")
        serial, _, door = where.rpartition(":")
        point_id, _, direction = point.partition(":")
        if not serial or not door.isdigit() or not point_id.isdigit():
            raise ValueError(item)
        if direction not in ("", "in", "out"):
            raise ValueError(item)
        doors[(serial.strip(), int(door))] = Door(int(point_id), direction or "in")
    return doors
