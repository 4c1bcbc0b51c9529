"""Domain exceptions.

Each adapter translates these into its own language: an HTTP status and page, a chat reply,
a bounce reply, or a CLI message with a non-zero exit. The message is written for a person.
"""

from __future__ import annotations

from collections.abc import Callable


class LoketError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        # ``message`` is a catalogue msgid with %(name)s placeholders, so that each adapter can
        # show it in the reader's language: ``exc.translated(gettext)``.
        self.template = message
        self.params = params
        self.message = message % params if params else message
        self.field = field
        super().__init__(self.message)

    def translated(self, gettext: Callable[[str], str]) -> str:
        text = gettext(self.template)
        return text % self.params if self.params else text

    def __str__(self) -> str:
        return self.message


class ValidationError(LoketError):
    """The input breaks a rule (too long, empty, wrong characters)."""

    code = "invalid"


class NotFound(LoketError):
    """The thing does not exist, or the actor may not know that it does."""

    code = "not_found"


class PermissionDenied(LoketError):
    """The actor may see the thing but not do this to it."""

    code = "forbidden"


class Conflict(LoketError):
    """The change clashes with what is already there (a duplicate number or username)."""

    code = "conflict"


class TooLarge(LoketError):
    """An upload went over the size limit; nothing of it was kept."""

    code = "too_large"


class LinkExpired(LoketError):
    """A link (token) that is unknown, used, replaced by a newer one, or expired."""

    code = "link_expired"


class TooManyAttempts(LoketError):
    """Too many failed tries; wait a while. ``retry_after`` is in seconds."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, **params: object) -> None:
        super().__init__(message, **params)
        self.retry_after = retry_after


class AuthenticationFailed(LoketError):
    """Wrong username, password or code. Deliberately does not say which."""

    code = "authentication_failed"
