"""Which handler takes which kind of update. Each kind has its own small module."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add the bot's handlers to ``app`` (the conversation comes with its own modules)."""
