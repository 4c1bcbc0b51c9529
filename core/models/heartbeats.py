"""When each long-running part of Loket last said it was working, per process, so that
/healthz on any web process can tell whether the outbox worker, the mail reader and the bot
are running, wherever they run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    component: Mapped[str] = mapped_column(String(16), primary_key=True)  # worker, mail, bot
    instance: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
