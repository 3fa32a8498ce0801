"""Client for the resilience host's HTTP API.

::

    from resilience_client import Client, RateLimited

    host = Client("http://127.0.0.1:8080")
    try:
        funding = host.call("binance", "get_funding_rate", {"symbol": "BTCUSDT"})
    except RateLimited as e:
        print("come back in", e.retry_after, "s")

See ``README.md`` beside this package.
"""

from .client import JOURNAL_STATES, Client, Health, JournalEntry, JournalPage
from .errors import (
    KINDS,
    CircuitOpen,
    Conflict,
    Connection,
    Forbidden,
    HostError,
    InvalidParams,
    InvalidResponse,
    MethodNotAllowed,
    NotFound,
    Parse,
    PayloadTooLarge,
    Plugin,
    RateLimited,
    StaleData,
    Timeout,
    TransportError,
    Unauthorized,
    Unavailable,
    UnknownOperation,
    UnknownVenue,
    Unsupported,
    Upstream,
    error_class,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Health",
    "JournalEntry",
    "JournalPage",
    "JOURNAL_STATES",
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
