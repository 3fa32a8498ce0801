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

from . import errors
from .client import JOURNAL_STATES, Client, Health, JournalEntry, JournalPage
from .errors import *  # noqa: F401,F403  (every error class, listed once in errors.__all__)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Health",
    "JournalEntry",
    "JournalPage",
    "JOURNAL_STATES",
    *errors.__all__,
]
