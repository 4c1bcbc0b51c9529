"""Building the one Settings object from the environment and an optional TOML file.

The environment wins over the file. The file may use the environment's names
(``LOKET_SMTP_HOST``) or the short ones (``smtp_host``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.services import retention
from core.settings import Settings
from core.storage_s3 import parse_store_url
from core.store_cipher import StoreCipher

from .sms_http import check_settings as check_sms_settings

PREFIX = "LOKET_"
BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]")
SECRET_FILE = "secret_key"
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """The settings cannot be used; the message says which one and why."""


def _convert(name: str, raw: Any, target: type | str) -> Any:
    kind = str(target)
    if kind.startswith("bool"):
        return _boolean(name, raw)
    if raw is None or raw == "":
        return None if "None" in kind else raw
    try:
        if "Path" in kind:
            return Path(str(raw))
        if kind.startswith("int"):
            return int(raw)
        return str(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name.upper()} must be a whole number, not {raw!r}.") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):  # TOML's own true and false
        return raw
    word = str(raw).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ConfigError(f"{PREFIX}{name.upper()} must be true or false (or 1 or 0), not {raw!r}.")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"Cannot read the settings file {path}: {exc.strerror}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML: {exc}.") from None
    out = {}
    for key, value in data.get("loket", data).items():
        key = key.lower().removeprefix(PREFIX.lower())
        out[key] = value
    return out


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Settings from ``environ`` (default: os.environ) over the optional TOML file."""
    environ = os.environ if environ is None else environ
    config_file = config_file or (
        Path(environ["LOKET_CONFIG"]) if "LOKET_CONFIG" in environ else None
    )
    values: dict[str, Any] = _read_toml(config_file) if config_file else {}
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"Unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}.")
    for name in fields:
        env_name = PREFIX + name.upper()
        if env_name in environ:
            values[name] = environ[env_name]
    kwargs = {name: _convert(name, value, fields[name].type) for name, value in values.items()}
    kwargs = {k: v for k, v in kwargs.items() if v is not None or "None" in str(fields[k].type)}
    settings = Settings(**kwargs)
    for name in ("smtp_tls", "imap_tls"):
        if getattr(settings, name) not in ("none", "starttls", "tls"):
            raise ConfigError(f"{PREFIX}{name.upper()} must be none, starttls or tls.")
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"{PREFIX}LOG_FORMAT must be text or json, not {settings.log_format!r}.")
    if settings.trusted_proxies:
        for part in settings.trusted_proxies.split(","):
            try:
                ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ConfigError(
                    f"{PREFIX}TRUSTED_PROXIES must list addresses or networks (127.0.0.1, "
                    f"10.0.0.0/8), separated by commas; {part.strip()!r} is neither."
                ) from None
    if settings.sms_url:
        problem = check_sms_settings(settings)
        if problem:
            raise ConfigError(problem)
    if settings.telegram_bot_username is not None:
        username = settings.telegram_bot_username.strip().removeprefix("@")
        if not BOT_USERNAME.fullmatch(username):
            raise ConfigError(
                f"{PREFIX}TELEGRAM_BOT_USERNAME must be the bot's username as BotFather gave it "
                f"(5 to 32 letters, digits and underscores, ending in 'bot'), not {username!r}."
            )
        settings = dataclasses.replace(settings, telegram_bot_username=username)
    if settings.telegram_per_second < 0:
        raise ConfigError(
            f"{PREFIX}TELEGRAM_PER_SECOND must be 0 (no pacing) or more, not "
            f"{settings.telegram_per_second}."
        )
    if settings.store_url:
        try:
            parse_store_url(settings.store_url)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}STORE_URL must be empty (the data dir) or s3://bucket/prefix: {exc}."
            ) from None
    for name in ("store_key", "store_key_previous"):
        try:
            StoreCipher.from_settings(getattr(settings, name), None)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}{name.upper()} must be 32 random bytes in base64 "
                f"(make one with: openssl rand -base64 32): {exc}."
            ) from None
    try:
        retention.parse_policy(settings.retention)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}RETENTION: {exc}.") from None
    for name in _AT_LEAST_ONE:
        if getattr(settings, name) < 1:
            raise ConfigError(f"{PREFIX}{name.upper()} must be at least 1.")
    return settings


# Limits where 0 would refuse everything (or, for a timeout, time out at once).
_AT_LEAST_ONE = (
    "http_header_timeout_seconds",
    "http_body_timeout_seconds",
    "http_body_min_bytes_per_second",
    "http_max_connections",
)


def ensure_secret_key(settings: Settings) -> Settings:
    """The configured secret key, or the one generated once into the data dir."""
    if settings.secret_key:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        # O_EXCL: two processes starting at once must not each write their own key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"The secret key file {path} is empty; delete it to make a new one.")
    return dataclasses.replace(settings, secret_key=key)
