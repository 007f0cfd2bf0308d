"""Local stand-ins for the services we cannot reach from tests or a laptop: the FCM v1 endpoint
with its OAuth token endpoint, a Telegram Bot API server, a MAX Bot API server, an SMPP centre,
an HTTP SMS gateway and an SMTP server. Each speaks the real protocol, so the real client
libraries talk to them, and each keeps what it received for tests and for `parta demo` to show."""
