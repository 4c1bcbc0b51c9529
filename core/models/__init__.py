"""The data model of DESIGN.md. Reading order: accounts, clients, dossiers, documents, messages."""

from .accounts import (
    Account,
    Language,
    LoginAttempt,
    RecoveryCode,
    Role,
    Token,
    TwoFactorMethod,
    WebSession,
)
from .audit import AuditEvent
from .base import Base, utcnow
from .checklists import Answer, Checklist, ChecklistAssignee, ChecklistStatus, ChecklistTemplate
from .clients import Client, ClientKind, IntermediaryOffice
from .documents import Channel, Document, DocumentCategory, DownloadReceipt, ReviewState
from .dossiers import FINISHED_STATUSES, Dossier, DossierCount, DossierStatus, DossierStep
from .heartbeats import Heartbeat
from .inbound import InboundMail
from .inbox import InboxRead, InboxReadUntil
from .messages import MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH, Direction, Message, MessageRead
from .outbox import OutboxItem, OutboxStatus
from .telegram import TelegramBot, TelegramChat, TelegramDelivery, TelegramUpdate

__all__ = [
    "FINISHED_STATUSES",
    "MAX_BODY_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "Account",
    "Answer",
    "AuditEvent",
    "Base",
    "Channel",
    "Checklist",
    "ChecklistAssignee",
    "ChecklistStatus",
    "ChecklistTemplate",
    "Client",
    "ClientKind",
    "Direction",
    "Document",
    "DocumentCategory",
    "Dossier",
    "DossierCount",
    "DossierStatus",
    "DossierStep",
    "DownloadReceipt",
    "Heartbeat",
    "InboundMail",
    "InboxRead",
    "InboxReadUntil",
    "IntermediaryOffice",
    "Language",
    "LoginAttempt",
    "Message",
    "MessageRead",
    "OutboxItem",
    "OutboxStatus",
    "RecoveryCode",
    "ReviewState",
    "Role",
    "TelegramBot",
    "TelegramChat",
    "TelegramDelivery",
    "TelegramUpdate",
    "Token",
    "TwoFactorMethod",
    "WebSession",
    "utcnow",
]
