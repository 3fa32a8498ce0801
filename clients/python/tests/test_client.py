"""The Python client against a real host.

``tests/tests/clients.rs`` (in the Rust workspace) starts a ``resilience-host``
process serving the echo test plugin against a wiremock venue and runs this
file with:

- ``RESILIENCE_TEST_URL``: the host; ``RESILIENCE_TEST_TOKEN``: its bearer token
- ``RESILIENCE_TEST_DEAD_URL``: an address where nothing listens
- ``RESILIENCE_TEST_KINDS``: the host's error kinds with their statuses (JSON)
- ``RESILIENCE_TEST_UNSET_VAR``: the env var of venue ``unconfigured``'s secret

Its venues (see that file): ``v`` (``checked`` on ``/ticker`` succeeds, on
``/refused`` the venue answers 400 with a code), ``limited`` (the venue's
rate limit with a 60 s wait), ``slow`` (answers after 3 s; 300 ms attempt
timeout), ``dead`` (nothing listens), ``orders`` (``place`` is journaled;
each order the venue takes gets the next ``order_no``), ``unconfigured``.

Without ``RESILIENCE_TEST_URL`` the host tests are skipped; the tests of the
error decoding run anyway.
"""

from __future__ import annotations

import json
import os
import unittest

import resilience_client as rc
from resilience_client.errors import from_answer

URL = os.environ.get("RESILIENCE_TEST_URL")
TOKEN = os.environ.get("RESILIENCE_TEST_TOKEN")
needs_host = unittest.skipUnless(URL, "set RESILIENCE_TEST_URL (tests/tests/clients.rs starts a host and sets it)")


class Decoding(unittest.TestCase):
    def test_an_error_body_becomes_its_class_with_every_field(self) -> None:
        body = {
            "error": {
                "kind": "upstream",
                "message": "venue answered HTTP 400 code -2019: margin",
                "venue": "binance",
                "operation": "create_market_order",
                "upstream_status": 400,
                "code": "-2019",
                "extra": 1,
            }
        }
        e = from_answer(502, None, json.dumps(body).encode())
        self.assertIsInstance(e, rc.Upstream)
        self.assertEqual((e.kind, e.status, e.upstream_status, e.code), ("upstream", 502, 400, "-2019"))
        self.assertEqual((e.venue, e.operation), ("binance", "create_market_order"))
        self.assertEqual(e.body and e.body["extra"], 1)

    def test_an_unknown_kind_is_a_plain_host_error_with_its_name(self) -> None:
        e = from_answer(418, None, b'{"error": {"kind": "brand_new", "message": "m"}}')
        self.assertIs(type(e), rc.HostError)
        self.assertEqual((e.kind, e.message, e.status), ("brand_new", "m", 418))

    def test_retry_after_comes_from_the_body_else_the_header(self) -> None:
        e = from_answer(429, "2", b'{"error": {"kind": "rate_limited", "message": "m", "retry_after_ms": 1500}}')
        self.assertEqual(e.retry_after, 1.5)
        e = from_answer(429, "2", b'{"error": {"kind": "rate_limited", "message": "m"}}')
        self.assertEqual(e.retry_after_ms, 2000)

    def test_a_body_that_is_not_an_error_body_is_an_invalid_response(self) -> None:
        e = from_answer(502, None, b"<html>Bad Gateway</html>")
        self.assertIsInstance(e, rc.InvalidResponse)
        self.assertIn("Bad Gateway", e.message)

    def test_base_urls_and_tokens_are_checked(self) -> None:
        self.assertEqual(rc.Client("http://127.0.0.1:8080/").base_url, "http://127.0.0.1:8080")
        self.assertIn("unix:/run/rh.sock", repr(rc.Client("unix:/run/rh.sock")))
        for bad in ("https://host", "127.0.0.1:8080", "http://h/?q=1", "unix:"):
            with self.assertRaises(ValueError, msg=bad):
                rc.Client(bad)
        with self.assertRaises(ValueError):
            rc.Client("http://h", token="bad\ntoken")
        self.assertNotIn("s3cret", repr(rc.Client("http://h", token="s3cret")))


@needs_host
class AgainstTheHost(unittest.TestCase):
    host: rc.Client

    @classmethod
    def setUpClass(cls) -> None:
        assert URL is not None
        cls.host = rc.Client(URL, token=TOKEN)

    def test_every_kind_the_host_sends_has_its_class_and_status(self) -> None:
        kinds = json.loads(os.environ["RESILIENCE_TEST_KINDS"])
        self.assertTrue(kinds)
        for kind, status in kinds:
            cls = rc.error_class(kind)
            self.assertIsNot(cls, rc.HostError, f"no class for the host's kind {kind}")
            self.assertEqual((cls.KIND, cls.STATUS), (kind, status))

    def test_a_call_returns_the_decoded_result(self) -> None:
        params = {"symbol": "XBTUSD", "n": [1, 2]}
        self.assertEqual(self.host.call("v", "echo", params), params)
        self.assertEqual(self.host.call("v", "echo"), {})
        self.assertEqual(self.host.call("v", "checked", {"path": "/ticker"}), {"last": "1.25"})

    def test_client_mistakes_are_invalid_params_unknown_operation_or_venue(self) -> None:
        with self.assertRaises(rc.InvalidParams) as cm:
            self.host.call("v", "send", {"nope": True})
        self.assertEqual((cm.exception.status, cm.exception.venue, cm.exception.operation), (400, "v", "send"))
        with self.assertRaises(rc.UnknownOperation) as cm2:
            self.host.call("v", "no_such_op")
        self.assertEqual(cm2.exception.status, 404)
        with self.assertRaises(rc.UnknownVenue) as cm3:
            self.host.call("nowhere", "echo")
        self.assertEqual(cm3.exception.status, 404)
        # Refused before any request: not JSON, or a key that is no header.
        with self.assertRaises(rc.InvalidParams) as cm4:
            self.host.call("v", "echo", {"x": float("nan")})
        self.assertIsNone(cm4.exception.status)
        with self.assertRaises(rc.InvalidParams) as cm5:
            self.host.call("orders", "place", {"path": "/orders"}, idempotency_key="bad key")
        self.assertIsNone(cm5.exception.status)

    def test_a_venue_error_is_upstream_with_its_status_and_code(self) -> None:
        with self.assertRaises(rc.Upstream) as cm:
            self.host.call("v", "checked", {"path": "/refused"})
        e = cm.exception
        self.assertEqual((e.kind, e.status, e.upstream_status, e.code), ("upstream", 502, 400, "EOrder:Insufficient funds"))

    def test_a_rate_limit_says_when_to_come_back(self) -> None:
        with self.assertRaises(rc.RateLimited) as cm:
            self.host.call("limited", "checked", {"path": "/limited"})
        self.assertEqual(cm.exception.status, 429)
        self.assertIsNotNone(cm.exception.retry_after_ms)
        # The first call gets the venue's 60 s; a later one the time left.
        self.assertTrue(50_000 <= (cm.exception.retry_after_ms or 0) <= 60_000, cm.exception.retry_after_ms)
        self.assertIsInstance(cm.exception, rc.HostError)

    def test_a_slow_venue_is_a_timeout_and_a_dead_one_a_connection_error(self) -> None:
        with self.assertRaises(rc.Timeout) as cm:
            self.host.call("slow", "send", {"path": "/slow"})
        self.assertEqual(cm.exception.status, 504)
        with self.assertRaises(rc.Connection) as cm2:
            self.host.call("dead", "send", {"path": "/x"})
        self.assertEqual(cm2.exception.status, 502)

    def test_no_answer_from_the_host_is_a_transport_error(self) -> None:
        impatient = rc.Client(URL or "", token=TOKEN, timeout=0.1)
        with self.assertRaises(rc.TransportError) as cm:
            impatient.call("slow", "send", {"path": "/slow"})
        self.assertIsNone(cm.exception.status)
        nobody = rc.Client(os.environ["RESILIENCE_TEST_DEAD_URL"])
        with self.assertRaises(rc.TransportError):
            nobody.call("v", "echo")

    def test_orders_are_placed_once_per_key_and_the_journal_pages(self) -> None:
        order = {"method": "POST", "path": "/orders", "body": "qty=1"}
        first = self.host.call("orders", "place", order, idempotency_key="py-order-1")
        self.assertEqual(first["status"], 200, first)
        self.assertEqual(json.loads(first["body"]), {"order_no": 1})
        # Again with the same key and params: the recorded result, no new order.
        self.assertEqual(self.host.call("orders", "place", order, idempotency_key="py-order-1"), first)
        with self.assertRaises(rc.Conflict) as cm:
            self.host.call("orders", "place", dict(order, body="qty=2"), idempotency_key="py-order-1")
        self.assertEqual(cm.exception.status, 409)
        self.assertIsNone(cm.exception.retry_after_ms)
        with self.assertRaises(rc.InvalidParams) as cm2:
            self.host.call("orders", "place", order)
        self.assertIn("Idempotency-Key", cm2.exception.message)
        second = self.host.call("orders", "place", order, idempotency_key="py-order-2")
        self.assertEqual(json.loads(second["body"]), {"order_no": 2})
        self.host.call("orders", "place", order, idempotency_key="py-order-3")

        page = self.host.journal(venue="orders", limit=2)
        self.assertEqual([e.key for e in page.entries], ["py-order-1", "py-order-2"])
        self.assertIsNotNone(page.next_cursor)
        last = self.host.journal(venue="orders", limit=2, cursor=page.next_cursor)
        self.assertEqual([e.key for e in last.entries], ["py-order-3"])
        self.assertIsNone(last.next_cursor)
        every = list(self.host.journal_entries(venue="orders", limit=2))
        self.assertEqual([e.key for e in every], ["py-order-1", "py-order-2", "py-order-3"])
        e1 = every[0]
        self.assertEqual((e1.state, e1.operation, e1.attempt), ("succeeded", "place", 1))
        self.assertEqual(e1.result_json(), first)
        self.assertEqual(list(self.host.journal_entries(state="in_doubt")), [])
        with self.assertRaises(rc.InvalidParams):
            self.host.journal(limit=0)
        with self.assertRaises(rc.InvalidParams):
            self.host.journal(state="lost")

    def test_health_and_venues(self) -> None:
        h = self.host.health()
        self.assertFalse(h.ok)
        self.assertEqual((h.status, h.http_status), ("degraded", 503))
        self.assertEqual(h.venues, {"unconfigured": "not configured"})
        self.assertTrue(self.host.health("v").ok)
        with self.assertRaises(rc.UnknownVenue) as cm:
            self.host.health("nowhere")
        self.assertEqual(cm.exception.status, 404)
        details = self.host.health_details()
        self.assertIn(os.environ["RESILIENCE_TEST_UNSET_VAR"], details.venues["unconfigured"])
        venues = self.host.venues()
        place = [o for o in venues["orders"]["operations"] if o["name"] == "place"]
        self.assertEqual(place[0]["mutating"], True)
        self.assertIn("v", self.host.stats()["venues"])

    def test_the_bearer_token(self) -> None:
        for token in ("not-the-token", None):
            other = rc.Client(URL or "", token=token)
            for attempt in (
                lambda: other.call("v", "echo"),
                other.venues,
                other.journal,
                other.health_details,
            ):
                with self.assertRaises(rc.Unauthorized) as cm:
                    attempt()
                self.assertEqual(cm.exception.status, 401)
            self.assertTrue(other.health("v").ok, "/health needs no token")


if __name__ == "__main__":
    unittest.main()
