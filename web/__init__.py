"""The web adapter (built in a later issue)."""
