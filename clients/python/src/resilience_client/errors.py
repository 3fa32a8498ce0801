"""The errors of the host's API, one exception class per error kind.

Every exception is a :class:`HostError`; catch a subclass for one kind
(``except RateLimited as e: time.sleep(e.retry_after)``). A kind a newer
host sends that this package does not know is raised as a plain
:class:`HostError` with that ``kind``, so an older client keeps working.

Two kinds are this client's own and never sent by the host:
:class:`TransportError` (no answer: connection refused or reset, or the
client's timeout) and :class:`InvalidResponse` (an answer that is not the
host's JSON, e.g. from a proxy).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type

__all__ = [
    "HostError",
    "InvalidParams",
    "Unsupported",
    "Unauthorized",
    "Forbidden",
    "UnknownVenue",
    "UnknownOperation",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "PayloadTooLarge",
    "RateLimited",
    "Plugin",
    "Upstream",
    "Connection",
    "Parse",
    "StaleData",
    "CircuitOpen",
    "Unavailable",
    "Timeout",
    "TransportError",
    "InvalidResponse",
    "KINDS",
    "error_class",
]


class HostError(Exception):
    """A failed request.

    Attributes:
        kind: the error kind (``"rate_limited"``, ...), as the host names it.
        message: the host's message (or this client's, for the client-side kinds).
        status: the HTTP status of the host's answer; ``None`` when there was
            none or the request was refused before it was sent.
        retry_after_ms: when a retry may get another answer: the body's
            ``retry_after_ms``, else the ``Retry-After`` header (whole
            seconds). Set on ``rate_limited`` and on a ``conflict`` over a key
            that is in flight or in doubt.
        upstream_status: the venue's HTTP status (``upstream``).
        code: the venue's error code (``upstream``, when the plugin read one).
        venue, operation: as the host names them in the error body.
        body: the whole ``error`` object the host sent (fields a newer host adds).
    """

    #: The kind this class stands for (``None`` on the base class).
    KIND: Optional[str] = None
    #: The HTTP status the host answers this kind with.
    STATUS: Optional[int] = None

    def __init__(
        self,
        message: str,
        *,
        kind: Optional[str] = None,
        status: Optional[int] = None,
        retry_after_ms: Optional[int] = None,
        upstream_status: Optional[int] = None,
        code: Optional[str] = None,
        venue: Optional[str] = None,
        operation: Optional[str] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        resolved = kind if kind is not None else self.KIND
        self.kind: str = resolved if resolved is not None else "unknown"
        self.message = message
        self.status = status
        self.retry_after_ms = retry_after_ms
        self.upstream_status = upstream_status
        self.code = code
        self.venue = venue
        self.operation = operation
        self.body = body
        super().__init__(message)

    @property
    def retry_after(self) -> Optional[float]:
        """:attr:`retry_after_ms` in seconds, for ``time.sleep``."""
        return None if self.retry_after_ms is None else self.retry_after_ms / 1000.0

    def __str__(self) -> str:
        text = f"{self.kind}: {self.message}"
        if self.status is not None:
            text += f" (HTTP {self.status})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r}, "
            f"status={self.status!r}, retry_after_ms={self.retry_after_ms!r})"
        )


class InvalidParams(HostError):
    """400: the body is not a JSON object, the params do not match the
    operation's schema or the plugin rejected them, or a mutating call came
    without the ``Idempotency-Key`` the plugin needs."""

    KIND, STATUS = "invalid_params", 400


class Unsupported(HostError):
    """400: the plugin does not support this combination."""

    KIND, STATUS = "unsupported", 400


class Unauthorized(HostError):
    """401: missing or wrong bearer token."""

    KIND, STATUS = "unauthorized", 401


class Forbidden(HostError):
    """403: an admin route on a host configured without a bearer token."""

    KIND, STATUS = "forbidden", 403


class UnknownVenue(HostError):
    """404: no venue of that name is configured."""

    KIND, STATUS = "unknown_venue", 404


class UnknownOperation(HostError):
    """404: the venue's plugin has no such operation."""

    KIND, STATUS = "unknown_operation", 404


class NotFound(HostError):
    """404: no route for the path (a wrong base URL)."""

    KIND, STATUS = "not_found", 404


class MethodNotAllowed(HostError):
    """405: the route answers another method."""

    KIND, STATUS = "method_not_allowed", 405


class Conflict(HostError):
    """409: the idempotency key is in flight or in doubt (``retry_after_ms``
    says when a retry may get another answer), or was used with another
    operation or other params (no ``retry_after_ms``)."""

    KIND, STATUS = "conflict", 409


class PayloadTooLarge(HostError):
    """413: the body exceeds the host's ``server.max_request_bytes``."""

    KIND, STATUS = "payload_too_large", 413


class RateLimited(HostError):
    """429: the venue's local budget is spent or the venue blocked the host;
    ``retry_after_ms`` says for how long."""

    KIND, STATUS = "rate_limited", 429


class Plugin(HostError):
    """500: the venue's plugin trapped, hit a limit or returned bad output."""

    KIND, STATUS = "plugin", 500


class Upstream(HostError):
    """502: the venue answered with an error: ``upstream_status`` and ``code``."""

    KIND, STATUS = "upstream", 502


class Connection(HostError):
    """502: the host could not reach the venue."""

    KIND, STATUS = "connection", 502


class Parse(HostError):
    """502: the venue's answer was unreadable."""

    KIND, STATUS = "parse", 502


class StaleData(HostError):
    """502: the venue's data is older than allowed."""

    KIND, STATUS = "stale_data", 502


class CircuitOpen(HostError):
    """503: every endpoint's breaker is open; nothing was sent."""

    KIND, STATUS = "circuit_open", 503


class Unavailable(HostError):
    """503: the journal cannot record a mutating call (reads still work)."""

    KIND, STATUS = "unavailable", 503


class Timeout(HostError):
    """504: an attempt or the call's deadline passed."""

    KIND, STATUS = "timeout", 504


class TransportError(HostError):
    """Client side: no answer from the host (connection refused or reset,
    or this client's timeout). ``status`` is ``None``."""

    KIND = "transport"


class InvalidResponse(HostError):
    """Client side: an answer that is not the host's JSON (or not of the
    expected shape), e.g. from a proxy in between."""

    KIND = "invalid_response"


#: Every kind this package knows, with its class.
KINDS: Dict[str, Type[HostError]] = {
    cls.KIND: cls
    for cls in (
        InvalidParams,
        Unsupported,
        Unauthorized,
        Forbidden,
        UnknownVenue,
        UnknownOperation,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        Plugin,
        Upstream,
        Connection,
        Parse,
        StaleData,
        CircuitOpen,
        Unavailable,
        Timeout,
        TransportError,
        InvalidResponse,
    )
    if cls.KIND is not None
}


def error_class(kind: str) -> Type[HostError]:
    """The class of ``kind``; :class:`HostError` for a kind not known here."""
    return KINDS.get(kind, HostError)


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def from_answer(status: int, retry_after: Optional[str], raw: bytes) -> HostError:
    """The exception for a non-2xx answer (``retry_after``: its
    ``Retry-After`` header): its ``{"error": {...}}`` body, or
    :class:`InvalidResponse` quoting the start of what came."""
    header_ms: Optional[int] = None
    if retry_after is not None and retry_after.strip().isdigit():
        header_ms = int(retry_after.strip()) * 1000
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        decoded = None
    err = decoded.get("error") if isinstance(decoded, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("kind"), str):
        text = raw.decode("utf-8", "replace")
        shown = text[:300] + ("…" if len(text) > 300 else "")
        return InvalidResponse(
            f"HTTP {status} without an error body: {shown}",
            status=status,
            retry_after_ms=header_ms,
        )
    kind: str = err["kind"]
    code = err.get("code")
    retry_ms = _int(err.get("retry_after_ms"))
    message = err.get("message")
    venue = err.get("venue")
    operation = err.get("operation")
    return error_class(kind)(
        message if isinstance(message, str) else kind,
        kind=kind,
        status=status,
        retry_after_ms=retry_ms if retry_ms is not None else header_ms,
        upstream_status=_int(err.get("upstream_status")),
        code=str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        venue=venue if isinstance(venue, str) else None,
        operation=operation if isinstance(operation, str) else None,
        body=err,
    )
