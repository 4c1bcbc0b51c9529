"""Logging for `loket serve`: our own lines at the chosen level; libraries that would log SQL
parameters or request paths (which can carry tokens) kept at WARNING."""

from __future__ import annotations

import logging

QUIET = ("aiosqlite", "sqlalchemy.engine", "asyncio", "aiosmtplib", "mail.log")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
