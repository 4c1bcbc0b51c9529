"""The one typed settings object.

It is built in loket/ (from the environment and an optional TOML file) and passed down;
core only reads the fields. Nothing here looks at the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./loket-data")
    database_url: str = ""
    public_url: str = "http://127.0.0.1:8080"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    secret_key: str = field(default="", repr=False)
    # During a key rotation: the old key, still accepted to open what it sealed or signed
    # (stored TOTP secrets, form tokens), never used for anything new.
    secret_key_previous: str | None = field(default=None, repr=False)
    mail_from: str = "loket@localhost"
    reply_address: str = "reply+{token}@localhost"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: str = "none"

    imap_host: str | None = None
    imap_port: int = 143
    imap_user: str | None = None
    imap_password: str | None = field(default=None, repr=False)
    imap_tls: str = "none"
    imap_folder: str = "INBOX"
    imap_done_folder: str = "Processed"

    smtp_in_host: str | None = None
    smtp_in_port: int | None = None

    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str | None = None
    telegram_webhook_url: str | None = None
    # The bot's username (without "@") for the deep links in My details and in mail; without
    # it, the name the bot process recorded from getMe at its start (core.services.telegram).
    telegram_bot_username: str | None = None
    # Messages a second the bot sends in all (Telegram allows about 30), and then one a second
    # per chat; 0 sends without pacing (tests, benches).
    telegram_per_second: int = 30

    # Text messages (two-step verification) go to a generic HTTP gateway; without a URL, SMS
    # is not offered. The URL and the body template may hold an API key: kept out of repr.
    sms_url: str | None = field(default=None, repr=False)
    sms_user: str | None = None
    sms_password: str | None = field(default=None, repr=False)
    sms_token: str | None = field(default=None, repr=False)
    sms_format: str = "form"  # "form" or "json"
    sms_body: str | None = field(default=None, repr=False)  # {to}, {text}, {sender}
    sms_sender: str | None = None

    firm_name: str = "Loket"
    upload_limit: int = 50 * MB
    missing_documents_days: int = 2

    # Staff accounts must use two-step verification: one without it is sent to set up an
    # authenticator app after logging in, before any other page (core.services.twofactor).
    staff_two_factor_required: bool = True

    invitation_ttl_hours: int = 7 * 24
    password_link_ttl_minutes: int = 30
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # Bounds on guessing passwords (see core.services.auth).
    login_window_minutes: int = 15
    login_failures_per_account: int = 10
    login_failures_per_address: int = 50
    login_max_delay_seconds: float = 8.0
    outbox_lifetime_hours: int = 4 * 24
    outbox_poll_seconds: int = 5
    # Inbound mail: Authentication-Results are trusted only from this authserv-id (the firm's
    # own receiving server); once mail_rate_per_sender mails from one sender have become
    # messages within mail_rate_minutes, the sender's further mail waits in quarantine.
    mail_authserv_id: str | None = None
    mail_rate_per_sender: int = 20
    mail_rate_minutes: int = 10
    mail_max_attachments: int = 50
    # Reminders: a first digest this many days after a checklist is assigned, then at most
    # weekly; none between quiet_hours_start and quiet_hours_end in the firm's time zone.
    reminder_first_days: int = 2
    reminder_every_days: int = 7
    quiet_hours_start: int = 21
    quiet_hours_end: int = 8
    timezone: str = "Europe/Amsterdam"
    # Slow and idle clients of the web view (see loket/serve.py): the request's headers within
    # http_header_timeout_seconds of connecting (or of the previous answer on a kept-alive
    # connection); its body without a pause longer than http_body_timeout_seconds and, after
    # that long, at http_body_min_bytes_per_second on average; at most http_max_connections
    # connections at once.
    http_header_timeout_seconds: int = 10
    http_body_timeout_seconds: int = 30
    http_body_min_bytes_per_second: int = 500
    http_max_connections: int = 200
    # How long documents and messages are kept per dossier status, counted from the dossier's
    # last activity: "completed=7y,archived=7y" (units y, m, d); a status not named is kept
    # for ever. Applied by `loket retention run` (core.services.retention).
    retention: str = ""
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # client for login throttling (web.peer); none: the peer is the client.
    trusted_proxies: str | None = None
    # Logs: "text" (one readable line per event) or "json" (one JSON object per line, with
    # the request, mail, update or outbox item it is about; see loket.logs).
    log_format: str = "text"
    # GET /metrics answers only requests with "Authorization: Bearer <metrics_token>";
    # without a token it is off (404).
    metrics_token: str | None = field(default=None, repr=False)
    # A process without the web view (--only worker, mail, bot) answers /metrics and /healthz
    # on this port (on http_host) when it is set; a web process answers them on its own.
    metrics_port: int | None = None
    # Where documents are kept: empty for the data dir's store/ folder, or an S3-compatible
    # bucket as s3://bucket/prefix (core.storage_s3) reached at store_endpoint (empty: AWS).
    store_url: str = ""
    store_endpoint: str | None = None
    store_region: str | None = None
    store_access_key: str | None = None
    store_secret_key: str | None = field(default=None, repr=False)
    # Documents encrypted at rest (core.store_cipher): 32 random bytes, base64; without it
    # files are stored as they came. The previous key only opens, during a rotation.
    store_key: str | None = field(default=None, repr=False)
    store_key_previous: str | None = field(default=None, repr=False)
    # Demo only: outgoing mail is caught here and staff can read it in the web view.
    mail_catcher_dir: Path | None = None

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def sms_originator(self) -> str:
        # An alphanumeric sender name may be at most 11 characters long.
        return self.sms_sender or self.firm_name[:11]

    @property
    def telegram_configured(self) -> bool:
        return bool(self.telegram_token)

    @property
    def https(self) -> bool:
        return self.public_url.lower().startswith("https://")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'loket.sqlite3').resolve()}"
