"""The Telegram bot: a python-telegram-bot Application whose handlers translate between
Telegram updates and core services. Conversation state lives in core, not here."""
