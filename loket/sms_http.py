"""Sending outbox text messages through a generic HTTP SMS gateway (the LOKET_SMS_* settings).

Most gateways take one POST per message, as a form or as JSON, with the number, the text and
the sender under names of their own: the body template says which. Placeholders ``{to}``,
``{text}`` and ``{sender}`` are filled in after the template is parsed, so a value is always
encoded as the format needs (a quote in a JSON string, an ampersand in a form).

The text holds a login code: it never goes into an error, a log line or the item's last
error, and neither do the URL or the credentials.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from core.models import OutboxItem
from core.outbox import PermanentFailure, TemporaryFailure
from core.settings import Settings

TIMEOUT = 15.0
FORMATS = ("form", "json")
DEFAULT_BODY = {
    "form": "to={to}&text={text}&sender={sender}",
    "json": '{"to": "{to}", "text": "{text}", "sender": "{sender}"}',
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
NAMES = ("to", "text", "sender")
# Busy, rate-limited or away: try again later. Any other refusal will not change by waiting.
RETRY_STATUSES = (408, 429)


def body_template(settings: Settings) -> str:
    return settings.sms_body or DEFAULT_BODY[settings.sms_format]


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def render_body(fmt: str, template: str, values: dict[str, str]) -> tuple[bytes, str]:
    """The request body and its content type."""
    if fmt == "json":
        return json.dumps(_fill(json.loads(template), values)).encode(), "application/json"
    pairs = [(k, _fill(v, values)) for k, v in parse_qsl(template, keep_blank_values=True)]
    return urlencode(pairs).encode(), "application/x-www-form-urlencoded"


def check_settings(settings: Settings) -> str | None:
    """What is wrong with the SMS settings, in words for the operator, or None."""
    if settings.sms_format not in FORMATS:
        return "LOKET_SMS_FORMAT must be form or json."
    url = urlsplit(settings.sms_url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        return "LOKET_SMS_URL must be an http:// or https:// address."
    if settings.sms_token and settings.sms_user:
        return "Set LOKET_SMS_USER and LOKET_SMS_PASSWORD, or LOKET_SMS_TOKEN, not both."
    template = body_template(settings)
    unknown = sorted(set(PLACEHOLDER.findall(template)) - set(NAMES))
    if unknown:
        return f"LOKET_SMS_BODY knows only {{to}}, {{text}} and {{sender}}, not {{{unknown[0]}}}."
    # Fill in markers that no format escapes, and see that the number and the text land.
    probe = {name: f"lOkEtPrObE{name}" for name in NAMES}
    try:
        body, _ = render_body(settings.sms_format, template, probe)
    except ValueError:
        return "LOKET_SMS_BODY is not valid JSON (LOKET_SMS_FORMAT is json)."
    if b"lOkEtPrObEto" not in body or b"lOkEtPrObEtext" not in body:
        return "LOKET_SMS_BODY must hold {to} and {text} in its values."
    return None


def _expired(item: OutboxItem) -> bool:
    expires = item.payload.get("expires_at")
    if not expires:
        return False
    return dt.datetime.fromisoformat(str(expires)) <= dt.datetime.now(dt.UTC)


class HttpSmsSender:
    """The outbox's sender for the "sms" channel."""

    def __init__(self, settings: Settings, *, timeout: float = TIMEOUT) -> None:
        problem = check_settings(settings)
        if problem:
            raise ValueError(problem)
        self.settings = settings
        self.template = body_template(settings)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": "application/json, */*"}
        s = self.settings
        if s.sms_token:
            headers["Authorization"] = f"Bearer {s.sms_token}"
        elif s.sms_user:
            pair = f"{s.sms_user}:{s.sms_password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        return headers

    async def send(self, item: OutboxItem) -> None:
        s = self.settings
        text = item.payload.get("secret_text")
        if not isinstance(text, str) or not item.recipient:
            raise PermanentFailure("no number or no text to send")
        if _expired(item):
            # A code that can no longer be used is not worth a text message.
            raise PermanentFailure("the code expired before the gateway took it")
        values = {"to": item.recipient, "text": text, "sender": s.sms_originator}
        body, content_type = render_body(s.sms_format, self.template, values)
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as http,
                http.post(
                    str(s.sms_url),
                    data=body,
                    headers=self._headers(content_type),
                    allow_redirects=False,
                ) as response,
            ):
                status, reason = response.status, (response.reason or "")[:100]
        except TimeoutError as exc:
            raise TemporaryFailure("the SMS gateway did not answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            # Only the kind of trouble: an aiohttp message may name the URL.
            raise TemporaryFailure(
                f"the SMS gateway is unreachable ({type(exc).__name__})"
            ) from exc
        if 200 <= status < 300:
            return
        answer = f"the SMS gateway answered {status} {reason}".rstrip()
        if status in RETRY_STATUSES or status >= 500:
            raise TemporaryFailure(answer)
        raise PermanentFailure(answer)
