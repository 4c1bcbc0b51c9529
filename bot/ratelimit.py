"""The bot's limits on sending, as python-telegram-bot's rate limiter (every request the bot
makes passes ``process_request``): at most ``per_second`` messages a second in all and one
a second per chat, as Telegram allows; a 429's ``retry_after`` waited out before trying
again; network trouble tried again after a growing pause, a few times; a 403 reported
(``on_blocked``), so that nothing more goes to a chat that blocked the bot.

PTB's own AIORateLimiter limits groups only and raises RetryAfter by default; a bot that
tries again at once is made to wait longer by Telegram.

Trying again must not put a message in a chat twice: a request that may have reached
Telegram (no answer in time, the connection dropped while waiting) is not repeated for the
methods that put a new message in a chat; it is for everything else (an edit, an answered
button, a file), where a second time changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# The methods that put a new message in a chat: paced per chat, never repeated blindly.
SENDS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)
# Errors of the transport that say the request never left: safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Reserve = Callable[[int], Awaitable[float]]
Sleep = Callable[[float], Awaitable[None]]
Blocked = Callable[[int], Awaitable[None]]


class Pace:
    """Slots at most one per ``interval`` seconds, in this process."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = 0.0

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait for it."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now


class ChatPaces:
    """One Pace per chat, in this process (the bot wires core's, shared by processes)."""

    KEEP = 10_000

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._paces: dict[int, Pace] = {}

    async def __call__(self, chat_id: int) -> float:
        if len(self._paces) > self.KEEP:
            # Chats whose slot has passed need no memory.
            now = self._clock()
            self._paces = {c: p for c, p in self._paces.items() if p._next > now}
        pace = self._paces.setdefault(chat_id, Pace(self.interval, self._clock))
        return pace.reserve()


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 moves retry_after from int to timedelta
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def may_have_arrived(exc: NetworkError) -> bool:
    """Whether Telegram may have carried the request out although we got no answer: a
    timeout or a dropped connection after it was sent. An error answer (502, 500) and a
    connection never made say it was not."""
    cause = exc.__cause__
    if isinstance(cause, _NOT_SENT):
        return False
    return isinstance(exc, TimedOut) or isinstance(cause, httpx.HTTPError)


def _chat(data: dict[str, Any]) -> int | None:
    chat_id = data.get("chat_id")
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        return int(chat_id)
    return None


class RateLimiter(BaseRateLimiter[None]):
    """See the module's text. ``per_second`` None or 0: no pacing at all (tests, benches);
    retries and blocked chats are handled still.

    ``reserve_chat(chat_id)`` takes the chat's next slot and says how long to wait for it
    (default: in this process; the bot passes core's, shared by all its processes).
    ``max_wait``: a longer retry_after is not waited out here but raised, for the caller to
    come back later (the outbox keeps the item until then)."""

    def __init__(
        self,
        *,
        per_second: float | None = 30.0,
        chat_interval: float = 1.0,
        reserve_chat: Reserve | None = None,
        on_blocked: Blocked | None = None,
        tries: int = 4,
        first_pause: float = 1.0,
        max_wait: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paced = bool(per_second)
        self._overall = Pace(1.0 / per_second if per_second else 0.0, clock)
        self._reserve_chat = reserve_chat or ChatPaces(chat_interval, clock)
        self._on_blocked = on_blocked
        self.tries = max(1, tries)
        self.first_pause = first_pause
        self.max_wait = max_wait
        self._sleep = sleep

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint == "getUpdates":
            # Its own loop waits and tries again (PTB's updater); it is no message either.
            return await callback(*args, **kwargs)
        chat_id = _chat(data)
        attempt = 0
        while True:
            attempt += 1
            await self._pace(endpoint, chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if wait > self.max_wait or attempt >= self.tries:
                    raise
                log.info("Telegram asks to wait %.0f s before %s", wait, endpoint)
                await self._sleep(wait)
            except Forbidden:
                if chat_id is not None and self._on_blocked is not None:
                    await self._on_blocked(chat_id)
                raise
            except BadRequest:
                raise  # what was asked is wrong: the same again is wrong again
            except NetworkError as exc:
                if attempt >= self.tries or (endpoint in SENDS and may_have_arrived(exc)):
                    raise
                pause = self.first_pause * 2 ** (attempt - 1)
                log.info("%s failed (%s); trying again in %.0f s", endpoint, exc.message, pause)
                await self._sleep(pause)

    async def _pace(self, endpoint: str, chat_id: int | None) -> None:
        if not self.paced or chat_id is None:
            return
        wait = self._overall.reserve()
        if endpoint in SENDS:
            wait = max(wait, await self._reserve_chat(chat_id))
        if wait > 0:
            await self._sleep(wait)
