"""Push through Firebase Cloud Messaging (HTTP v1) with firebase-admin.

Tokens FCM reports unregistered are switched off. Where the school and consent do not allow
more, the message carries only a neutral text and the notification id; the app fetches the
content from our API.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

from notifications.channels.base import Outgoing, PermanentFailure, Sent, TemporaryFailure

# FCM's answers meaning "this token will never work again": switch it off.
GONE = (
    messaging.UnregisteredError,
    messaging.SenderIdMismatchError,
    exceptions.InvalidArgumentError,
)


def _retry_after(error: exceptions.FirebaseError) -> float | None:
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


class PushChannel:
    name = "push"

    def __init__(self, credentials_file: str, project_id: str, fcm_url: str = "") -> None:
        options: dict[str, Any] = {"projectId": project_id} if project_id else {}
        cert = credentials.Certificate(credentials_file)
        self.app = firebase_admin.initialize_app(cert, options, name=f"parta-{uuid.uuid4().hex}")
        if fcm_url:
            # The service reads its URL when built: build it now, pointed where we were told.
            service = messaging._get_messaging_service(self.app)
            service._fcm_url = (
                fcm_url.rstrip("/") + f"/v1/projects/{service._project_id}/messages:send"
            )

    async def send(self, message: Outgoing) -> Sent:
        tokens = list(message.addresses)
        if not tokens:
            raise PermanentFailure("no_device")
        collapse = f"n{message.notification_id}"
        batch = [
            messaging.Message(
                fid=token,
                notification=messaging.Notification(title=message.title, body=message.text),
                data={**message.data, "notification_id": str(message.notification_id)},
                android=messaging.AndroidConfig(
                    priority="high" if message.urgent else "normal",
                    collapse_key=collapse,
                    # The same tag replaces, never repeats, a notification on the phone.
                    notification=messaging.AndroidNotification(tag=collapse),
                ),
                apns=messaging.APNSConfig(headers={"apns-collapse-id": collapse}),
            )
            for token in tokens
        ]
        response = await messaging.send_each_async(batch, app=self.app)
        ids, gone, temporary = [], [], []
        for token, result in zip(tokens, response.responses, strict=True):
            if result.success:
                ids.append(result.message_id)
                continue
            error = result.exception
            if isinstance(error, GONE):
                gone.append(token)
            else:
                temporary.append(error)
        if ids:
            return Sent(provider_id=ids[0], parts=len(ids), gone=tuple(gone))
        if temporary:
            first = temporary[0]
            retry = max((_retry_after(e) or 0 for e in temporary if e is not None), default=0)
            raise TemporaryFailure(f"fcm:{type(first).__name__}", retry_after=retry or None)
        raise PermanentFailure("unregistered", gone=tuple(gone))

    async def close(self) -> None:
        await asyncio.to_thread(firebase_admin.delete_app, self.app)
