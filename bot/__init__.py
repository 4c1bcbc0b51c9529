"""The bot adapter (built in a later issue)."""
