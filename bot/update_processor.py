"""Updates handled several at a time, each chat's one after the other.

One update at a time (PTB's default) leaves the bot idle while an update waits for the
database or for Telegram to take its answer: with many clients answering at once the rate
is then one update per round trip, not what the process can do. Several at a time fill that
wait with other chats' updates.

A chat's own updates still take turns, in the order they came: an answer is handled against
the state the one before left, and the message that asks the next question is recorded (after
its send) before the chat's next button press is judged live or stale. PTB's own processor
(``concurrent_updates(N)``) would start a chat's next update while the one before is still
being answered, and could take two of one chat out of order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import BaseUpdateProcessor

# Enough to cover a unit of work's and a send's waits with other chats' work; more only
# queues at the database (SQLite has one writer) and makes each update wait longer.
CONCURRENT_UPDATES = 8


class PerChatProcessor(BaseUpdateProcessor):
    """Up to ``concurrent`` updates at once, one chat's in order (an update with no chat
    takes turns with the others that have none), polled or posted to the webhook
    (bot.webhook). ``on_shutdown``: run when the application shuts down, once every update
    is done with."""

    def __init__(
        self,
        concurrent: int = CONCURRENT_UPDATES,
        *,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(concurrent)
        self._on_shutdown = on_shutdown
        # Each chat with updates in hand: its lock and how many of them hold or wait for it.
        self._chats: dict[int | None, tuple[asyncio.Lock, list[int]]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = getattr(update, "effective_chat", None)
        key = chat.id if chat is not None else None
        lock, users = self._chats.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:  # FIFO: the chat's updates in the order they came
                await coroutine
        finally:
            users[0] -= 1
            if not users[0]:
                del self._chats[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        if self._on_shutdown is not None:
            await self._on_shutdown()
