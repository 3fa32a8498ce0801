"""Build Polymarket orders with the official client, for the plugin's
differential test (plugins/polymarket/tests/oracle.rs).

Reads a JSON list of cases on stdin and prints one JSON list of results, in
order. Each case is built with py-clob-client-v2's own `OrderBuilder`
(`build_order` for limit orders, `build_market_order` for market orders)
from float inputs, as the client's users call it, with the case's salt and
timestamp patched in so the output is deterministic. Besides the signed
order, each result carries:

- `digest`: the EIP-712 digest the client signs; for cases with
  `"sign": true`, `signature` (the client's own) and `recovered`: the
  address recovered from it over the digest. Pure-Python secp256k1 costs
  ~15 ms a signature, so the test signs a sample and compares every digest;
- `exchange`: the verifying contract the client chose (version, neg-risk);
- `float_size`, `float_price`: the client's own rounding of the inputs
  (hundredths, price units), so the test can tell where float rounding of
  an input, not the arithmetic, made the client's amounts differ;
- `decimal_maker`, `decimal_taker`: the client's amount functions fed
  `Decimal` inputs, which takes the input-rounding floats out.

Case fields: kind ("limit" | "market"), side ("BUY" | "SELL"), token_id,
price, size (limit) or amount (market) as decimal strings, tick, neg_risk,
version (1 | 2), chain_id, salt, timestamp_ms, fee_rate_bps, expiration, sign.
"""

import json
import sys
from decimal import Decimal

from eth_account import Account
from eth_account.messages import encode_typed_data

import py_clob_client_v2.order_builder.builder as builder_module
from py_clob_client_v2.clob_types import (
    CreateOrderOptions,
    MarketOrderArgsV2,
    OrderArgsV2,
)
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_builder.helpers import round_down, round_normal
from py_clob_client_v2.order_utils.exchange_order_builder_v1 import (
    ExchangeOrderBuilderV1,
    _hash_message,
)
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
from py_clob_client_v2.signer import Signer

# Hardhat account 0: a public test key.
PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

current = {}


class FixedTime:
    """`time` for the builder: the case's timestamp."""

    @staticmethod
    def time_ns():
        return current["timestamp_ms"] * 1_000_000


def recording(base):
    class Recording(base):
        def __init__(self, contract_address, chain_id, signer, **kwargs):
            kwargs["generate_salt"] = lambda: current["salt"]
            super().__init__(contract_address, chain_id, signer, **kwargs)
            current["exchange"] = contract_address

        def build_order_signature(self, typed_data):
            current["digest"] = "0x" + _hash_message(encode_typed_data(full_message=typed_data)).hex()
            if not current["sign"]:
                return ""
            return super().build_order_signature(typed_data)

    return Recording


builder_module.time = FixedTime
builder_module.ExchangeOrderBuilderV1 = recording(ExchangeOrderBuilderV1)
builder_module.ExchangeOrderBuilderV2 = recording(ExchangeOrderBuilderV2)


def build(case, builders):
    rc = ROUNDING_CONFIG[case["tick"]]
    ob = builders.setdefault(case["chain_id"], OrderBuilder(Signer(PRIVATE_KEY, case["chain_id"])))
    options = CreateOrderOptions(tick_size=case["tick"], neg_risk=case["neg_risk"])
    price = float(case["price"])
    current.update(salt=case["salt"], timestamp_ms=case["timestamp_ms"], sign=case.get("sign", False))
    if case["kind"] == "limit":
        size = float(case["size"])
        args = OrderArgsV2(
            token_id=case["token_id"], price=price, size=size, side=case["side"],
            expiration=case["expiration"],
        )
        if case["version"] == 1:
            args.fee_rate_bps = case["fee_rate_bps"]
        signed = ob.build_order(args, options, version=case["version"],
                                fee_rate_bps=case["fee_rate_bps"] if case["version"] == 1 else None)
        float_price = round_normal(price, rc.price)
        _, dm, dt = ob.get_order_amounts(case["side"], Decimal(case["size"]), Decimal(case["price"]), rc)
    else:
        size = float(case["amount"])
        args = MarketOrderArgsV2(
            token_id=case["token_id"], amount=size, side=case["side"], price=price,
        )
        signed = ob.build_market_order(args, options, version=case["version"],
                                       fee_rate_bps=case["fee_rate_bps"] if case["version"] == 1 else None)
        float_price = round_down(price, rc.price)
        _, dm, dt = ob.get_market_order_amounts(case["side"], Decimal(case["amount"]), Decimal(case["price"]), rc)
    digest = bytes.fromhex(current["digest"][2:])
    recovered = (
        Account._recover_hash(digest, signature=bytes.fromhex(signed.signature[2:]))
        if current["sign"]
        else None
    )
    return {
        "maker_amount": str(signed.makerAmount),
        "taker_amount": str(signed.takerAmount),
        "side": "BUY" if int(signed.side) == 0 else "SELL",
        "token_id": str(signed.tokenId),
        "signature_type": int(signed.signatureType),
        "salt": int(signed.salt),
        "exchange": current["exchange"],
        "digest": current["digest"],
        "signature": signed.signature,
        "recovered": recovered,
        "float_size": round(round_down(size, 2) * 100),
        "float_price": round(float_price * 10**rc.price),
        "decimal_maker": str(dm),
        "decimal_taker": str(dt),
    }


def main():
    cases = json.load(sys.stdin)
    builders = {}
    out = []
    for case in cases:
        try:
            out.append(build(case, builders))
        except Exception as e:  # the client refused: report it, do not stop
            out.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
