"""Push through Firebase Cloud Messaging (HTTP v1).

One `POST .../messages:send` a device, on kept-alive connections of an aiohttp session, with
the OAuth access token of the service account cached until it is about to expire (decision
0505). firebase-admin reads the service-account file and refreshes the token
(`credentials.Certificate`); its own send path (httpx with a retrying transport and an auth
flow that builds a `requests` session per message) cost the worker about half of its CPU per
push. The body is the one firebase-admin's encoder writes for the same message
(`tests/unit/test_push_wire.py` holds the two together), and FCM's answers are read as
firebase-admin reads them: which errors mean the token is gone, which are worth another try.

Tokens FCM reports unregistered are switched off. Where the school and consent do not allow
more, the message carries only a neutral text and the notification id; the app fetches the
content from our API.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import firebase_admin
import msgspec
from firebase_admin import _http_client, credentials

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure

FCM_URL = "https://fcm.googleapis.com"
# The token is taken again this long before it expires (Google's tokens live an hour).
REFRESH_AHEAD = 300.0
# Connections kept open to FCM: a worker sends at most `delivery.SENDS_IN_FLIGHT` at once.
CONNECTIONS = 100

# FCM's own error codes (`details[].errorCode` of an FcmError), as firebase-admin names them.
FCM_ERRORS = {
    "APNS_AUTH_ERROR": "ThirdPartyAuthError",
    "QUOTA_EXCEEDED": "QuotaExceededError",
    "SENDER_ID_MISMATCH": "SenderIdMismatchError",
    "THIRD_PARTY_AUTH_ERROR": "ThirdPartyAuthError",
    "UNREGISTERED": "UnregisteredError",
}
# The platform's error code when the body names none (firebase-admin's table).
HTTP_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
# FCM's answers meaning "this token will never work again": switch it off. (firebase-admin:
# UnregisteredError, SenderIdMismatchError, and InvalidArgumentError, a malformed token.)
GONE_FCM = ("UNREGISTERED", "SENDER_ID_MISMATCH")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class FcmError(Exception):
    """FCM answered with an error: `code` is FCM's error code where it gave one, else the
    platform's (`INVALID_ARGUMENT`, `UNAVAILABLE`, ...)."""

    def __init__(self, code: str, gone: bool, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code, self.gone, self.retry_after = code, gone, retry_after


# What makes a device's send worth another try later: an error answer that is not "gone", no
# answer (connection, timeout), or an answer that could not be read.
TEMPORARY = (FcmError, aiohttp.ClientError, TimeoutError, OSError, msgspec.DecodeError)


def message_body(message: Outgoing, token: str) -> dict[str, Any]:
    """The request body for one device, as firebase-admin encodes the `messaging.Message` of
    earlier versions of this channel (fields with a value only; the device in `fid`)."""
    collapse = f"n{message.notification_id}"
    return {
        "message": {
            "android": {
                "collapse_key": collapse,
                # The same tag replaces, never repeats, a notification on the phone.
                "notification": {"tag": collapse},
                "priority": "high" if message.urgent else "normal",
            },
            "apns": {"headers": {"apns-collapse-id": collapse}},
            "data": {**message.data, "notification_id": str(message.notification_id)},
            "notification": {"body": message.text, "title": message.title},
            "fid": token,
        }
    }


def read_error(status: int, body: bytes, retry_after: str | None) -> FcmError:
    """FCM's error answer, read the way firebase-admin reads it."""
    error: dict[str, Any] = {}
    try:
        parsed = _decode(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except msgspec.DecodeError:
        pass
    fcm_code = next(
        (
            str(d.get("errorCode"))
            for d in error.get("details") or []
            if isinstance(d, dict) and d.get("@type") == FCM_ERROR_TYPE
        ),
        None,
    )
    platform = str(error.get("status") or HTTP_STATUS_CODES.get(status, "UNKNOWN"))
    known = fcm_code in FCM_ERRORS
    gone = fcm_code in GONE_FCM or (not known and platform == "INVALID_ARGUMENT")
    try:
        after = float(retry_after) if retry_after else None
    except ValueError:
        after = None
    return FcmError(fcm_code if known and fcm_code else platform, gone, after)


class PushChannel:
    name = "push"

    def __init__(self, credentials_file: str, project_id: str, fcm_url: str = "") -> None:
        cert = credentials.Certificate(credentials_file)
        self._credential = cert.get_credential()
        project = project_id or cert.project_id
        if not project:
            raise ValueError("FCM needs a project id (PARTA_FCM_PROJECT_ID or the key file's)")
        self.url = f"{(fcm_url or FCM_URL).rstrip('/')}/v1/projects/{project}/messages:send"
        self._headers: dict[str, str] = {}  # with the current token
        self._expires = 0.0  # monotonic time to take a new token at
        self._refreshing = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def _auth_headers(self, force: bool = False) -> dict[str, str]:
        """The request headers with a valid access token, taken anew (in a thread: google-auth
        asks the token endpoint synchronously) when it is about to expire or FCM refused it."""
        stale = self._headers.get("authorization")
        if not force and stale and time.monotonic() < self._expires:
            return self._headers
        async with self._refreshing:
            current = self._headers.get("authorization")
            if current and current != stale and time.monotonic() < self._expires:
                return self._headers  # another send took a new one meanwhile
            from google.auth.transport.requests import Request

            await asyncio.to_thread(self._credential.refresh, Request())
            headers = {
                "Content-Type": "application/json; charset=UTF-8",
                "X-GOOG-API-FORMAT-VERSION": "2",
                "X-FIREBASE-CLIENT": f"fire-admin-python/{firebase_admin.__version__}",
                **_http_client.METRICS_HEADERS,
            }
            self._credential.apply(headers)
            expiry = self._credential.expiry
            lifetime = (
                expiry.timestamp() - time.time()
                if expiry is not None
                else 3600.0  # no expiry given: an hour, as Google's tokens live
            )
            self._expires = time.monotonic() + max(0.0, lifetime - REFRESH_AHEAD)
            self._headers = {k.lower(): v for k, v in headers.items()}
            return self._headers

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def _send_one(self, body: bytes) -> str:
        """One device's message; FCM's message name, or `FcmError`."""
        session = self._client()
        for attempt in range(2):
            headers = await self._auth_headers(force=attempt > 0)
            async with session.post(self.url, data=body, headers=headers) as response:
                raw = await response.read()
                if response.status == 200:
                    answer = _decode(raw)
                    return str(answer.get("name", "")) if isinstance(answer, dict) else ""
                if response.status == 401 and attempt == 0:
                    continue  # the token was refused: take a new one, once
                raise read_error(response.status, raw, response.headers.get("Retry-After"))
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(self, message: Outgoing) -> Sent:
        tokens = list(message.addresses)
        if not tokens:
            raise PermanentFailure("no_device")
        bodies = [_encode(message_body(message, token)) for token in tokens]
        results = await asyncio.gather(
            *(self._send_one(body) for body in bodies), return_exceptions=True
        )
        ids, gone = [], []
        temporary: list[BaseException] = []
        for token, result in zip(tokens, results, strict=True):
            if isinstance(result, str):
                ids.append(result)
            elif isinstance(result, FcmError) and result.gone:
                gone.append(token)
            elif isinstance(result, TEMPORARY):
                temporary.append(result)
            elif isinstance(result, BaseException):
                raise result
        if ids:
            return Sent(provider_id=ids[0], parts=len(ids), gone=tuple(gone))
        if temporary:
            first = temporary[0]
            reason = first.code if isinstance(first, FcmError) else type(first).__name__
            retry = max(
                (e.retry_after or 0 for e in temporary if isinstance(e, FcmError)), default=0
            )
            raise TemporaryFailure(f"fcm:{reason}", retry_after=retry or None)
        raise PermanentFailure("unregistered", gone=tuple(gone))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
