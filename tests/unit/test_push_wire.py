"""The push channel speaks FCM HTTP v1 itself (decision 0505): its request body must be the one
firebase-admin writes for the same message, and it must read FCM's error answers as
firebase-admin does (which mean the token is gone, which are worth another try)."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest
from firebase_admin import _utils, exceptions, messaging

from notifications.channels.base import Outgoing
from notifications.channels.push import FCM_ERRORS, message_body, read_error


def _outgoing(urgent: bool) -> Outgoing:
    return Outgoing(
        delivery_id=41,
        notification_id=7,
        user_id=3,
        addresses=("token-1",),
        title="Новая оценка «5»",
        text='Математика: "отлично" \\ 100%',
        urgent=urgent,
        data={"kind": "mark.created", "delivery_id": "41"},
    )


@pytest.mark.parametrize("urgent", [False, True])
def test_body_is_firebase_admins(urgent: bool) -> None:
    out = _outgoing(urgent)
    collapse = "n7"
    theirs = messaging.Message(
        fid="token-1",
        notification=messaging.Notification(title=out.title, body=out.text),
        data={**out.data, "notification_id": "7"},
        android=messaging.AndroidConfig(
            priority="high" if urgent else "normal",
            collapse_key=collapse,
            notification=messaging.AndroidNotification(tag=collapse),
        ),
        apns=messaging.APNSConfig(headers={"apns-collapse-id": collapse}),
    )
    expected = {"message": messaging._MessagingService.encode_message(theirs)}
    ours = message_body(out, "token-1")
    assert ours == expected
    # ... and on the wire: the same JSON document.
    assert json.loads(msgspec.json.encode(ours)) == json.loads(json.dumps(expected))


def _fcm(status: int, state: str, code: str | None) -> bytes:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
        if code
        else []
    )
    error = {"code": status, "message": "m", "status": state, "details": details}
    return json.dumps({"error": error}).encode()


GONE_TYPES = (
    messaging.UnregisteredError,
    messaging.SenderIdMismatchError,
    exceptions.InvalidArgumentError,
)


@pytest.mark.parametrize(
    ("status", "body", "retry_after"),
    [
        (404, _fcm(404, "NOT_FOUND", "UNREGISTERED"), None),
        (403, _fcm(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), None),
        (400, _fcm(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), None),
        (400, b"not json", None),
        (429, _fcm(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "7"),
        (401, _fcm(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), None),
        (503, b"", "3"),
        (500, _fcm(500, "INTERNAL", "INTERNAL"), None),
        (404, _fcm(404, "NOT_FOUND", None), None),
    ],
)
def test_errors_read_as_firebase_admin_reads_them(
    status: int, body: bytes, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    request = httpx.Request("POST", "https://fcm.googleapis.com/v1/projects/p/messages:send")
    response = httpx.Response(status, content=body, headers=headers, request=request)
    theirs = _utils.handle_platform_error_from_httpx(
        httpx.HTTPStatusError("x", request=request, response=response),
        messaging._MessagingService._build_fcm_error_httpx,
    )
    ours = read_error(status, body, retry_after)
    assert ours.gone == isinstance(theirs, GONE_TYPES), (ours.code, type(theirs))
    if ours.code in FCM_ERRORS:
        assert type(theirs).__name__ == FCM_ERRORS[ours.code]
    else:
        assert theirs.code == ours.code
    assert ours.retry_after == (float(retry_after) if retry_after else None)
