#!/usr/bin/env python3
"""A small funding-rate daemon on the resilience host (Python client).

Every ``--interval`` seconds it reads Binance's funding rate for ``--symbol``
through the host; when the rate is above ``--threshold`` it sells
``--quantity`` of the perpetual once per funding period (shorts are paid the
funding). The order's ``Idempotency-Key`` is derived from the symbol and the
funding period, so a restart, a timeout or a second replica can never place
it twice: the host's journal sends at most one order per key.

Without ``--live`` it only prints the order it would place (the demo's
simulated Binance serves reads only).

    pip install ./clients/python           # or: export PYTHONPATH=clients/python/src
    cargo xtask demo &                      # simulated venues on 127.0.0.1:8080
    python examples/python/hedger.py --once

The client does not retry; the host already did. The daemon decides by error
kind: wait what ``rate_limited`` says, sit out an open breaker or an outage
until the next tick, call again with the same key when an order is in doubt,
and stop on errors that only a fix can cure (bad params, wrong token).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional

import resilience_client as rc

VENUE = "binance"


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def tick(host: rc.Client, args: argparse.Namespace) -> float:
    """One round; returns how long to wait before the next."""
    interval: float = args.interval
    funding = host.call(VENUE, "get_funding_rate", {"symbol": args.symbol})
    rate = float(funding["funding_rate"])
    log(f"{args.symbol} funding {rate:+.6f} mark {funding['mark_price']}")
    if rate <= args.threshold:
        return interval
    key = f"hedge-{args.symbol}-{funding['next_funding_time']}"
    order = {"symbol": args.symbol, "side": "SELL", "quantity": args.quantity}
    if not args.live:
        log(f"would sell {args.quantity} {args.symbol} (Idempotency-Key {key}); --live places it")
        return interval
    placed = host.call(VENUE, "create_market_order", order, idempotency_key=key)
    # The answer carries the fill (the plugin asks Binance for RESULT).
    log(
        f"sold {placed.get('executed_qty')} at {placed.get('avg_price')}: order "
        f"{placed.get('order_id')} status {placed.get('status')} (key {key})"
    )
    return interval


def run(host: rc.Client, args: argparse.Namespace) -> int:
    while True:
        wait: Optional[float] = None
        ok = False
        try:
            wait = tick(host, args)
            ok = True
        except rc.RateLimited as e:
            wait = max(e.retry_after or args.interval, 0.1)
            log(f"rate limited, waiting {wait:.1f} s: {e.message}")
        except rc.Conflict as e:
            # In flight or in doubt under this key: the same call again later
            # returns the order once the host knows. Without retry_after the
            # key was reused with other params: a bug in the key scheme.
            if e.retry_after is None:
                log(f"key reused with other params: {e}")
                return 2
            wait = e.retry_after
            log(f"order in doubt, asking again in {wait:.1f} s")
        except (rc.CircuitOpen, rc.Unavailable, rc.Timeout, rc.Connection, rc.Upstream, rc.TransportError) as e:
            log(f"venue or host not answering well ({e.kind}), next tick: {e}")
        except (rc.InvalidParams, rc.Unauthorized, rc.UnknownVenue, rc.UnknownOperation) as e:
            log(f"fix the configuration: {e}")
            return 2
        except rc.HostError as e:
            log(f"call failed: {e}")
        if args.once:
            return 0 if ok else 1
        time.sleep(wait if wait is not None else args.interval)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the host (default %(default)s)")
    p.add_argument("--token-env", default="RESILIENCE_TOKEN", help="env var with the bearer token, if any")
    p.add_argument("--symbol", default="BTCUSDT")
    p.add_argument("--threshold", type=float, default=0.0001, help="funding rate above which to sell")
    p.add_argument("--quantity", default="0.001")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
    p.add_argument("--live", action="store_true", help="place orders (default: print them)")
    p.add_argument("--once", action="store_true", help="one round; exit 0 when it succeeded")
    args = p.parse_args()
    host = rc.Client(args.url, token=os.environ.get(args.token_env))
    try:
        return run(host, args)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
