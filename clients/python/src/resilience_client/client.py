"""The client: one object per host, standard library only (``urllib``)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import InvalidParams, InvalidResponse, TransportError, UnknownVenue, from_answer

__all__ = ["Client", "Health", "JournalEntry", "JournalPage", "JOURNAL_STATES"]

#: The states of a journaled call.
JOURNAL_STATES = ("pending", "succeeded", "failed", "in_doubt")


@dataclass(frozen=True)
class Health:
    """What ``/health`` or ``/v1/health`` says.

    Attributes:
        status: ``"ok"`` or ``"degraded"``.
        venues: each degraded venue with its status (``/health``: a short
            generic one such as ``"not configured"``; ``/v1/health``: the
            detailed reason).
        http_status: 200 ok, 503 degraded.
    """

    status: str
    venues: Dict[str, str]
    http_status: int

    @property
    def ok(self) -> bool:
        """Whether every venue asked about can serve (HTTP 200)."""
        return self.http_status == 200


@dataclass(frozen=True)
class JournalEntry:
    """One journaled mutating call (one venue and idempotency key).

    ``params`` and ``result`` are JSON text as the host stores them;
    :meth:`result_json` parses the result. ``raw`` is the entry as sent
    (fields a newer host adds are there).
    """

    venue: str
    key: str
    operation: str
    params: str
    digest: str
    state: str
    result: Optional[str]
    error_kind: Optional[str]
    error_message: Optional[str]
    created_ms: int
    updated_ms: int
    attempt: int
    lease_until_ms: int
    settle_at_ms: int
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, e: Mapping[str, Any]) -> "JournalEntry":
        """An entry from its JSON object."""
        return cls(
            venue=e["venue"],
            key=e["key"],
            operation=e["operation"],
            params=e["params"],
            digest=e["digest"],
            state=e["state"],
            result=e.get("result"),
            error_kind=e.get("error_kind"),
            error_message=e.get("error_message"),
            created_ms=e["created_ms"],
            updated_ms=e["updated_ms"],
            attempt=e["attempt"],
            lease_until_ms=e.get("lease_until_ms", 0),
            settle_at_ms=e.get("settle_at_ms", 0),
            raw=dict(e),
        )

    def result_json(self) -> Any:
        """The recorded result, parsed (``None`` when there is none)."""
        return None if self.result is None else json.loads(self.result)


@dataclass(frozen=True)
class JournalPage:
    """One page of ``GET /v1/journal``: entries oldest first, and the cursor
    of the next page (``None`` on the last)."""

    entries: List[JournalEntry]
    next_cursor: Optional[str]
    backend: str


class Client:
    """A client of one host.

    ``Client("http://127.0.0.1:8080", token=os.environ.get("RESILIENCE_TOKEN"))``

    Args:
        base_url: ``http://HOST:PORT``, optionally with a path prefix when a
            proxy mounts the host under one; or ``unix:/path/to/socket`` for
            a host on the same machine listening there
            (``server.listen = "unix:/path"``), which skips the TCP stack.
        token: sent as ``Authorization: Bearer <token>`` (the host's
            ``server.auth_token_env``); ``/health`` needs none.
        timeout: seconds to wait to connect and for each read of the answer
            (``None``: wait as long as the host takes). The default is above
            the host's default call deadline (``deadline_ms``, 60 s), so the
            host's own ``timeout`` error arrives first; raise it for venues
            with a longer deadline. When it passes, :class:`TransportError`
            is raised; a mutating call the host already started goes on there
            and is journaled (call again with the same key).

    The client sends each request once and never retries: the host already
    retries what is safe to retry (backoff with jitter, ``Retry-After``,
    retry budgets, failover, breakers) within the venue's deadline, and a
    second layer of retries here would multiply the load on a failing venue
    and bypass the host's budgets. When the host gives up, the exception says
    why and, for :class:`~resilience_client.RateLimited` and a busy
    :class:`~resilience_client.Conflict`, when to come back (``retry_after``).

    Environment proxies (``http_proxy``) are ignored: the host is meant to be
    near its callers. Each request opens its own connection; the client holds
    no state between requests and may be shared between threads.
    """

    #: Default ``timeout`` in seconds.
    DEFAULT_TIMEOUT = 90.0

    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._unix_path: Optional[str] = None
        if base_url.startswith(UNIX_PREFIX):
            # The host's `server.listen = "unix:/path"`: HTTP/1.1 over the socket.
            self._unix_path = base_url[len(UNIX_PREFIX) :]
            if not self._unix_path:
                raise ValueError(f"base_url {base_url!r}: expected unix:/path/to/socket")
            base_url = "http://localhost"
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "http" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                f"base_url {base_url!r}: expected http://HOST:PORT[/PREFIX] (the host serves plain "
                "http) or unix:/path/to/socket"
            )
        if token is not None and (not token or not all(0x20 < ord(c) < 0x7F for c in token)):
            raise ValueError("the token must be visible ASCII")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        token = "<redacted>" if self._token is not None else None
        where = self.base_url if self._unix_path is None else UNIX_PREFIX + self._unix_path
        return f"Client(base_url={where!r}, token={token!r}, timeout={self.timeout!r})"

    # -- venue calls ---------------------------------------------------------

    def call(
        self,
        venue: str,
        operation: str,
        params: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
    ) -> Any:
        """Call ``operation`` of ``venue`` with ``params`` (a JSON object;
        ``None`` is ``{}``) and return the operation's decoded JSON result.

        ``idempotency_key`` is sent as the ``Idempotency-Key`` header (1 to
        255 visible ASCII characters). Mutating operations (orders) need one
        with the plugins' default ``prepare``: the host sends at most one
        order per key, a call again with the same key and params returns the
        recorded result, and the same key with other params raises
        :class:`~resilience_client.Conflict`. Read-only operations ignore it.

        Raises the :class:`~resilience_client.HostError` subclass of the
        error's kind. Params that are not JSON, or a key that cannot be a
        header, raise :class:`~resilience_client.InvalidParams` with
        ``status`` ``None`` before any request.
        """
        try:
            body = json.dumps({} if params is None else params, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise InvalidParams(f"params do not serialize to JSON: {e}") from None
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            if not idempotency_key or not all(0x20 < ord(c) < 0x7F for c in idempotency_key):
                raise InvalidParams("Idempotency-Key must be 1 to 255 visible ASCII characters")
            headers["Idempotency-Key"] = idempotency_key
        path = f"/v1/venues/{_segment(venue)}/{_segment(operation)}"
        return self._json("POST", path, body.encode("utf-8"), headers)

    # -- reads -----------------------------------------------------------------

    def venues(self) -> Dict[str, Any]:
        """``GET /v1/venues``: each venue's plugin, version, operations (with
        ``mutating`` and the params schema), endpoints and breaker states."""
        out = self._json("GET", "/v1/venues")
        return _object(out, "venues")

    def stats(self) -> Dict[str, Any]:
        """``GET /v1/stats``: per venue totals, success %, failures by kind,
        retries, failovers, latency, and each endpoint's breaker."""
        out = self._json("GET", "/v1/stats")
        if not isinstance(out, dict):
            raise InvalidResponse("/v1/stats did not answer a JSON object")
        return out

    def journal(
        self,
        venue: Optional[str] = None,
        state: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> JournalPage:
        """``GET /v1/journal``: one page of journaled mutating calls, oldest
        first, filtered by ``venue`` and ``state`` (one of
        :data:`JOURNAL_STATES`); ``limit`` 1 to 1000 per page (the host's
        default is 100). Pass the page's ``next_cursor`` as ``cursor`` for the
        next one, or use :meth:`journal_entries`."""
        query: List[Tuple[str, str]] = []
        for name, value in (("venue", venue), ("state", state), ("limit", limit), ("cursor", cursor)):
            if value is not None:
                query.append((name, str(value)))
        path = "/v1/journal"
        if query:
            path += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        out = self._json("GET", path)
        try:
            return JournalPage(
                entries=[JournalEntry.from_json(e) for e in out["entries"]],
                next_cursor=out.get("next_cursor"),
                backend=out.get("backend", ""),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise InvalidResponse(f"the journal page does not decode: {e!r}") from None

    def journal_entries(
        self,
        venue: Optional[str] = None,
        state: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Iterator[JournalEntry]:
        """Every entry the filters select, from ``cursor`` on, fetching the
        next page (of ``limit`` entries) as the iteration reaches it."""
        while True:
            page = self.journal(venue=venue, state=state, limit=limit, cursor=cursor)
            yield from page.entries
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def health(self, venue: Optional[str] = None) -> Health:
        """``GET /health`` (no token needed): ok, or each degraded venue with
        a short generic status. A degraded host is a :class:`Health` with
        ``ok`` false, not an exception; ``venue`` asks about one venue, and
        one that is not configured raises
        :class:`~resilience_client.UnknownVenue`."""
        return self._health("/health", venue)

    def health_details(self, venue: Optional[str] = None) -> Health:
        """``GET /v1/health`` (behind the token): as :meth:`health`, with each
        degraded venue's detailed reason."""
        return self._health("/v1/health", venue)

    # -- plumbing --------------------------------------------------------------

    def _health(self, path: str, venue: Optional[str]) -> Health:
        if venue is not None:
            path += "?venue=" + urllib.parse.quote(venue, safe="")
        status, retry_after, raw = self._send("GET", path)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        reported = body.get("status") if isinstance(body, dict) else None
        if status in (200, 503) and isinstance(reported, str) and isinstance(body, dict):
            venues = body.get("venues") or {}
            return Health(
                status=reported,
                venues={k: v if isinstance(v, str) else json.dumps(v) for k, v in venues.items()},
                http_status=status,
            )
        if status == 404 and reported == "unknown_venue" and isinstance(body, dict):
            raise UnknownVenue(f"no venue named {venue!r}", status=404, venue=venue, body=body)
        raise from_answer(status, retry_after, raw)

    def _json(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Any:
        status, retry_after, raw = self._send(method, path, body, headers)
        if not 200 <= status < 300:
            raise from_answer(status, retry_after, raw)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InvalidResponse(f"HTTP {status} with a body that is not JSON: {e}", status=status) from None

    def _send(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Optional[str], bytes]:
        """One request: the answer's status, ``Retry-After`` and body."""
        if self._unix_path is not None:
            return self._send_unix(method, path, body, headers)
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        req.add_header("Accept", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        if self._token is not None:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers.get("Retry-After"), resp.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers.get("Retry-After"), e.read()
        except urllib.error.URLError as e:
            raise TransportError(f"no answer from {self.base_url}: {e.reason}") from e
        except (OSError, http.client.HTTPException) as e:
            # Timeouts (socket.timeout is an OSError), resets, a closed connection.
            raise TransportError(f"no answer from {self.base_url}: {e!r}") from e


    def _send_unix(
        self,
        method: str,
        path: str,
        body: Optional[bytes],
        headers: Optional[Dict[str, str]],
    ) -> Tuple[int, Optional[str], bytes]:
        """:meth:`_send` over the host's Unix-domain socket."""
        assert self._unix_path is not None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self._token is not None:
            all_headers["Authorization"] = f"Bearer {self._token}"
        conn = _UnixConnection(self._unix_path, self.timeout)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            return resp.status, resp.headers.get("Retry-After"), resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise TransportError(f"no answer from {UNIX_PREFIX}{self._unix_path}: {e!r}") from e
        finally:
            conn.close()


#: ``base_url`` prefix for the host's Unix-domain socket (``unix:/run/rh.sock``).
UNIX_PREFIX = "unix:"


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix-domain socket (``Host: localhost``)."""

    def __init__(self, path: str, timeout: Optional[float]) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _segment(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _object(out: Any, key: str) -> Dict[str, Any]:
    inner = out.get(key) if isinstance(out, dict) else None
    if not isinstance(inner, dict):
        raise InvalidResponse(f"expected an object with {key!r}")
    return inner
