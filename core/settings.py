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
    secret_key: str = ""
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

    firm_name: str = "Loket"
    upload_limit: int = 50 * MB
    missing_documents_days: int = 2

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'loket.sqlite3').resolve()}"
