"""Settings: one object read from the environment, passed to whatever needs it.

Nothing reads the environment at import time. The composition roots (the `parta` command line,
`piccolo_conf`, tests) build a `Settings` and hand it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///.parta/parta.sqlite"
# The addresses YooKassa sends its notifications from (its documentation, «Входящие
# уведомления»).
YOOKASSA_NETWORKS = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)


class Settings(BaseSettings):
    """Everything Parta needs to know about its environment. Each field is `PARTA_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="PARTA_", extra="ignore", frozen=True)

    environment: Literal["production", "demo", "development", "test"] = "development"

    # Storage: `postgresql://user@host:port/db` in production, `sqlite:///path` embedded.
    database_url: str = DEFAULT_SQLITE_URL
    database_pool_min: int = 2
    database_pool_max: int = 20
    # A streaming replica (`postgresql://...`) for the reads that may be a little stale (the
    # diary's stored weeks, the reports; decision 1111). Empty: every read goes to the primary.
    # Ignored on SQLite. A replica further behind than `database_replica_max_lag_seconds`, or
    # unreachable, is left alone until it catches up: its reads go to the primary meanwhile.
    database_replica_url: str = ""
    database_replica_max_lag_seconds: float = Field(default=5.0, gt=0)
    # `redis://host:port/db`, or `memory://` for the in-process substitute (embedded mode).
    redis_url: str = "memory://"

    # Tokens. The secret must come from the environment in production.
    secret_key: SecretStr = SecretStr("")
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    activation_code_days: int = 30
    reset_code_minutes: int = 15

    # Throttling of failed sign-ins.
    login_failures_per_account: int = 5
    # A ceiling per address, counted after the limit per account (or per phone for activation
    # codes): high enough for a school of 1,500 behind one NAT address, low enough to stop a
    # script trying many accounts.
    login_failures_per_address: int = 1000
    login_failure_window_seconds: int = 15 * 60
    api_rate_limit_per_minute: int = 1200

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    cors_origins: list[str] = Field(default_factory=list)
    # Proxies (addresses or networks, e.g. 10.0.0.0/8) whose X-Forwarded-For is believed. Empty:
    # none, the address is the connection's own (decision 0013).
    trusted_proxies: list[str] = Field(default_factory=list)
    request_max_body_bytes: int = 1_048_576
    # Prometheus scrapes `/metrics` with `Authorization: Bearer <this>`; empty: no `/metrics`.
    metrics_token: SecretStr = SecretStr("")
    time_zone: str = "Europe/Moscow"
    locale: str = "ru"
    log_level: str = "INFO"
    log_json: bool = True

    # Delivery channels (used by the notifications worker).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_sender: str = "Парта <noreply@parta.local>"
    smtp_starttls: bool = False
    fcm_credentials_file: str = ""
    fcm_project_id: str = ""
    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = ""
    # MAX (max.ru): the bot's token and the Bot API's address (empty: MAX's own).
    max_bot_token: SecretStr = SecretStr("")
    max_api_url: str = ""
    # The family bot on MAX: its name makes the deep link `https://max.ru/<name>?start=<code>`
    # (empty: the app shows the short code only); webhooks as for Telegram (`bot_mode`), MAX
    # posting to `max_webhook_url` with `max_webhook_secret` in `X-Max-Bot-Api-Secret`.
    max_bot_username: str = ""
    max_webhook_url: str = ""
    max_webhook_secret: SecretStr = SecretStr("")
    # The family bot (bots/, `parta bot`; docs/bot.md). The bot's username makes the deep link
    # `https://t.me/<username>?start=<code>`; empty: the app shows the short code only.
    telegram_bot_username: str = ""
    # How the bot hears Telegram: `polling` (development, the demo) or `webhook` (production:
    # Telegram posts to `telegram_webhook_url` with `telegram_webhook_secret` in its header).
    bot_mode: Literal["polling", "webhook"] = "polling"
    bot_host: str = "127.0.0.1"
    bot_port: int = 8081
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    # Linking a chat: a code lives this long, and a chat may send this many wrong codes in
    # `login_failure_window_seconds` before it must wait.
    bot_link_code_minutes: int = 10
    bot_link_failures_per_chat: int = 5
    sms_smpp_host: str = ""
    sms_smpp_port: int = 2775
    sms_smpp_system_id: str = ""
    sms_smpp_password: SecretStr = SecretStr("")
    sms_http_url: str = ""
    sms_http_token: SecretStr = SecretStr("")
    sms_sender: str = "PARTA"
    sms_http_provider: str = "http"  # which one carries SMS when both are set: smpp | http

    # The notifications worker (see docs/notify.md).
    fcm_url: str = ""  # override of the FCM v1 send URL (a local stand-in in tests and demo)
    notify_queue: str = "parta"
    notify_concurrency: int = 50
    notify_shutdown_grace_seconds: int = 10
    notify_relay_interval: float = 0.05
    # An idle relay looks less and less often, up to this (the first event after a quiet spell
    # waits at most this long; a busy relay keeps `notify_relay_interval`).
    notify_relay_idle_interval: float = 1.0
    notify_relay_batch: int = 500
    notify_fanout_batch: int = 50  # outbox events one fan-out job handles together
    notify_max_attempts: int = 5
    notify_retry_base_seconds: float = 2.0
    notify_retry_max_seconds: float = 600.0
    # A push whose worker died mid-send waits this long (from the send) for the phone's
    # receipt before it is sent again (0: at once, for apps that send no receipts).
    notify_push_receipt_grace_seconds: float = 10.0
    # Provider pacing shared by all workers (messages per second).
    notify_telegram_rate: float = 30.0
    notify_telegram_chat_rate: float = 1.0
    # MAX publishes 30 requests a second per bot; a chat is paced like Telegram's.
    notify_max_rate: float = 30.0
    notify_max_chat_rate: float = 1.0
    notify_fcm_rate: float = 500.0
    notify_sms_rate: float = 10.0
    notify_email_rate: float = 20.0
    # Slots are spaced this share wider than each provider's limit (see notifications.pacing).
    notify_rate_headroom: float = 0.01
    # E-mail services abroad: full texts go there only with cross-border consent.
    notify_foreign_email_domains: list[str] = Field(
        default_factory=lambda: [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "hotmail.com",
            "live.com",
            "yahoo.com",
            "icloud.com",
            "me.com",
            "proton.me",
            "protonmail.com",
        ]
    )

    # Payments of families' meal money by YooKassa (docs/meals.md, decision 0805). Empty shop
    # id or key: payment by card is off (cash top-ups still work).
    yookassa_shop_id: str = ""
    yookassa_secret_key: SecretStr = SecretStr("")
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    # Where notifications may come from (YooKassa's published ranges). The address is the
    # connection's, or X-Forwarded-For's from a trusted proxy (`trusted_proxies`).
    yookassa_notification_networks: list[str] = Field(
        default_factory=lambda: list(YOOKASSA_NETWORKS)
    )
    # Where the payment page sends the family back ("" : this server's root).
    payment_return_url: str = ""
    # 54-FZ receipt of a top-up: an advance for meals not yet chosen, VAT code 1 (no VAT:
    # school meals are exempt, Tax Code art. 149), the shop's tax system if it needs one.
    receipt_vat_code: int = 1
    receipt_payment_mode: str = "advance"
    receipt_payment_subject: str = "payment"
    receipt_tax_system_code: int | None = None

    # Where uploaded files (homework attachments) live by default.
    media_root: Path = Path(".parta/media")

    # Backups (`parta backup`, docs/operations.md): where, and how many are kept.
    backup_dir: Path = Path(".parta/backups")
    backup_keep_daily: int = Field(default=14, ge=1)
    backup_keep_monthly: int = Field(default=12, ge=0)

    # Retention (`backend/ops/retention.py`, docs/operations.md): how long what is kept.
    retention_journal_years: int = Field(default=5, ge=1)
    retention_final_marks_years: int = Field(default=25, ge=1)
    retention_deliveries_days: int = Field(default=365, ge=30)
    retention_audit_years: int = Field(default=5, ge=1)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> str:
        """The file path of an SQLite URL (`sqlite:///rel/path` or `sqlite:////abs/path`)."""
        return self.database_url.split("sqlite:///", 1)[1]

    @property
    def has_replica(self) -> bool:
        return bool(self.database_replica_url) and not self.is_sqlite

    @property
    def redis_in_memory(self) -> bool:
        return self.redis_url.startswith("memory://")

    def require_secret(self) -> str:
        """The signing secret; refuses to run production with an empty or short one."""
        secret = self.secret_key.get_secret_value()
        if len(secret) < 32:
            raise ValueError(
                "PARTA_SECRET_KEY must be set to at least 32 random characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return secret
