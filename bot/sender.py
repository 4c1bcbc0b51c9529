"""The outbox's Telegram sender: an item on channel "telegram" as a chat message (bot.compose),
sent under the bot's limits (bot.ratelimit), and remembered as carried by that message
(core: record_delivery), so that a reply to it in the chat is filed in its dossier.

What Telegram answers becomes the outbox's outcome: a 429 it asks us to wait long for is
tried again when it says; a 403 (the person blocked the bot) fails the item, and the chat is
marked blocked by the limiter; a refusal (400) fails it; network trouble is tried again
later, unless the message may have arrived (no answer in time): then it is not sent again,
so that it never shows twice, and staff read why.
"""

from __future__ import annotations

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from core.db import Database
from core.models import OutboxItem
from core.outbox import PermanentFailure, TemporaryFailure
from core.services import telegram
from core.settings import Settings

from . import compose
from .ratelimit import may_have_arrived, retry_after_seconds

NO_ANSWER = (
    "no answer from Telegram in time: the message may have arrived, so it is not sent again "
    "(it would show twice)"
)


class TelegramSender:
    """``send(item)`` for core.outbox; ``aclose()`` when done. ``bot``: one made by
    bot.app.sending_bot (the limits and the blocked chats come with it)."""

    def __init__(self, settings: Settings, db: Database, bot: Bot) -> None:
        self.settings = settings
        self.db = db
        self.bot = bot
        self._started = False

    async def send(self, item: OutboxItem) -> None:
        async with self.db.read() as s:
            refused = await telegram.why_not_send(s, item)
        if refused is not None:
            raise PermanentFailure(refused)
        notice = compose.render(item, self.settings)
        if not self._started:
            try:
                await self.bot.initialize()
            except TelegramError as exc:
                raise TemporaryFailure(f"Telegram not reached: {exc.message}") from None
            self._started = True
        try:
            message = await self.bot.send_message(
                int(item.recipient),
                notice.text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except Forbidden:
            raise PermanentFailure(telegram.BLOCKED) from None
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            raise TemporaryFailure(str(exc), retry_after=seconds) from None
        except BadRequest as exc:
            raise PermanentFailure(f"refused by Telegram: {exc.message}") from None
        except NetworkError as exc:
            if may_have_arrived(exc):
                raise PermanentFailure(NO_ANSWER) from None
            raise TemporaryFailure(f"Telegram not reached: {exc.message}") from None
        except TelegramError as exc:  # a wrong token, say: staff can mend it, then it goes
            raise TemporaryFailure(f"Telegram: {exc.message}") from None
        async with self.db.begin() as s:
            await telegram.record_delivery(s, message.chat_id, message.message_id, item)

    async def aclose(self) -> None:
        if self._started:
            await self.bot.shutdown()
            self._started = False
