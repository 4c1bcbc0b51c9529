"""The mailbridge adapter (built in a later issue)."""
