"""Build Binance USDⓈ-M futures REST requests with the official SDK, for the
plugin's differential test (plugins/binance/tests/oracle.rs).

Reads a JSON list of cases on stdin and prints one JSON list of results, in
order (stdout carries only that JSON; the SDK's logging goes to stderr).
Each case is sent through a real `DerivativesTradingUsdsFutures(...).rest_api`
(binance-sdk-derivatives-trading-usds-futures, with binance-common) built as
its README shows, with Binance's documented example key pair, and the HTTP
request it would send is captured instead of sent.

Case: {"method": "<RestAPI method name, e.g. new_order>",
       "args": {<the method's keyword arguments, snake_case>},
       "timestamp": <int ms>,                     (needed if signed)
       "decimals": ["quantity", "price", ...]}   (optional)

Result: {"method": "POST", "path": "/fapi/v1/order",
         "query": the exact `params` string the SDK hands to requests
                  (already encoded, ends in `&signature=<hex>` when signed),
         "signed_message": the exact string the SDK signed (null if unsigned),
         "signature": the hex HMAC-SHA256 (null if unsigned),
         "wire_query": the query requests puts in the URL after its own
                  `requote_uri` pass (equal to `query` unless requests
                  re-escaped something),
         "body": the form body, "" when none,
         "api_key_header": true if X-MBX-APIKEY carried the key}
or {"error": "<type>: <message>"} when the SDK (or the argument conversion
below) refuses the case; the run goes on. A required argument left out is
Python's TypeError (missing positional argument); one passed as null is the
SDK's RequiredError; an unknown keyword is a TypeError.

Why each patch exists:

- `requests.Session.request` (class-level, so the session the RestAPI made
  is covered) records method, URL, params, data and headers and returns a
  canned 200 `{}` JSON response: nothing leaves the machine. The base path is
  http://127.0.0.1:9 (discard port) besides, should the patch ever miss.
  With `{}` the SDK's response-model parsing may fail; it then logs a
  warning and falls back to the raw payload, and anything it raises after
  the capture is ignored: the capture is the result.
- `binance_common.utils.get_timestamp`, the name `send_request` looks up,
  returns the case's timestamp, so query and signature are deterministic.
- `binance_common.utils.get_signature` is wrapped to record the exact string
  signed; the result checks it is the query minus `&signature=...`.

Argument conversion:

- Decimals. The SDK types prices and quantities `float`, and `str(float)`
  writes 1e-05 for 0.00001. The case passes such values as decimal strings
  and names them in `decimals`; they are turned into `decimal.Decimal`, which
  the SDK's `make_serializable` writes with `format(v, "f")` (trailing zeros
  kept: "0.0010" stays "0.0010").
- Enums. The SDK does not check argument types: a plain string is sent as
  is and an Enum member as its `.value`, which is the same text. Still, when
  a parameter is annotated with an Enum class, the string is converted by
  value (`NewOrderSideEnum("BUY")`), as a typed caller would pass it; a value
  the SDK's enum lacks is then reported as an error rather than sent. Params
  the SDK types `str` (e.g. position_side) are passed unchanged.
- Lists of models (`batch_orders` of place_multiple_orders and
  modify_multiple_orders). Each dict becomes the SDK's model
  (`PlaceMultipleOrdersBatchOrdersParameterInner`, ...), as the SDK's
  signature asks: keys may be snake_case or the camelCase aliases, and the
  model validates its enum fields. Its quantity/price are StrictFloat, so
  the model is built with float values and the named `decimals` fields are
  then put back into the instance's `__dict__` as Decimal. A key the model
  has no field for is an error here (pydantic would silently drop it). The
  SDK serializes the model's `__dict__` in field-declaration order, without
  None values, and including defaults (reduceOnly "FALSE",
  newOrderRespType "ACK").
"""

import json
import sys
import types
import typing
from decimal import Decimal
from enum import Enum
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel
from requests.structures import CaseInsensitiveDict

import binance_common.utils as utils
from binance_common.configuration import ConfigurationRestAPI
from binance_sdk_derivatives_trading_usds_futures import DerivativesTradingUsdsFutures

# Binance's documented example key pair (HMAC).
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BASE_PATH = "http://127.0.0.1:9"

current = {}


def fake_request(self, method, url, params=None, data=None, headers=None, **kwargs):
    """`requests.Session.request`: record the request, answer 200 `{}`."""
    current["captured"] = {
        "method": method,
        "url": url,
        "params": params,
        "data": data,
        "headers": dict(headers or {}),
    }
    response = requests.Response()
    response.status_code = 200
    response._content = b"{}"
    response.encoding = "utf-8"
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    response.url = url
    return response


def fixed_timestamp():
    """`get_timestamp` for `send_request`: the case's timestamp."""
    if current.get("timestamp") is None:
        raise KeyError("the case has no timestamp, and this request is signed")
    return current["timestamp"]


real_get_signature = utils.get_signature


def recording_get_signature(configuration, payload, signer=None):
    """`get_signature`, recording the exact string signed."""
    signature = real_get_signature(configuration, payload, signer)
    current["signed"] = (payload, signature)
    return signature


requests.Session.request = fake_request
utils.get_timestamp = fixed_timestamp
utils.get_signature = recording_get_signature


def unwrap(annotation):
    """The non-None types of an Optional/Union annotation."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def to_decimal(value):
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, float):
        return Decimal(repr(value))
    raise TypeError(f"cannot read {value!r} as a decimal")


def build_model(cls, item, decimals):
    """One batch item: the SDK model, validated with floats, Decimals put back."""
    if not isinstance(item, dict):
        raise TypeError(f"batch item must be an object, got {item!r}")
    names = {}
    for name, field in cls.model_fields.items():
        if name == "additional_properties":
            continue
        names[name] = name
        if field.alias:
            names[field.alias] = name
    unknown = [k for k in item if k not in names]
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {unknown}")
    kwargs, exact = {}, {}
    for key, value in item.items():
        name = names[key]
        if value is not None and (key in decimals or name in decimals):
            exact[name] = to_decimal(value)
            value = float(exact[name])
        kwargs[name] = value
    model = cls(**kwargs)
    model.__dict__.update(exact)  # StrictFloat refuses Decimal: bypass validation
    return model


def convert(method, args, decimals):
    """The case's JSON args as the SDK method's typed keyword arguments."""
    hints = typing.get_type_hints(method)
    out = {}
    for key, value in args.items():
        kinds = unwrap(hints.get(key, typing.Any))
        if value is None:
            out[key] = None
            continue
        model_lists = [
            typing.get_args(k)[0]
            for k in kinds
            if typing.get_origin(k) in (list, typing.List)
            and typing.get_args(k)
            and isinstance(typing.get_args(k)[0], type)
            and issubclass(typing.get_args(k)[0], BaseModel)
        ]
        if model_lists and isinstance(value, list):
            out[key] = [build_model(model_lists[0], item, decimals) for item in value]
            continue
        if key in decimals:
            out[key] = to_decimal(value)
            continue
        enums = [k for k in kinds if isinstance(k, type) and issubclass(k, Enum)]
        if enums and isinstance(value, str):
            out[key] = enums[0](value)
            continue
        out[key] = value
    return out


def run(rest_api, case):
    name = case["method"]
    method = getattr(rest_api, name, None)
    if name.startswith("_") or not callable(method):
        raise AttributeError(f"the SDK RestAPI has no method {name!r}")
    kwargs = convert(method, case.get("args", {}), set(case.get("decimals", [])))
    current.clear()
    current["timestamp"] = None if case.get("timestamp") is None else int(case["timestamp"])
    try:
        method(**kwargs)
    except Exception:
        if "captured" not in current:
            raise  # refused before sending: the case's error
        # after the capture (response-model parsing): irrelevant here
    if "captured" not in current:
        raise RuntimeError("the SDK sent no request")
    cap = current["captured"]
    query = cap["params"] or ""
    if not isinstance(query, str):
        raise TypeError(f"params not a string: {query!r}")
    signed_message = signature = None
    if "signed" in current:
        signed_message, signature = current["signed"]
        if query != f"{signed_message}&signature={signature}":
            raise AssertionError(
                f"query {query!r} is not the signed message {signed_message!r} + &signature=")
    prepared = requests.Request(cap["method"], cap["url"], params=query).prepare()
    split = urlsplit(cap["url"])
    data = cap["data"]
    return {
        "method": cap["method"],
        "path": split.path,
        "query": query,
        "signed_message": signed_message,
        "signature": signature,
        "wire_query": urlsplit(prepared.url).query,
        "body": data if isinstance(data, str) else ("" if data is None else str(data)),
        "api_key_header": cap["headers"].get("X-MBX-APIKEY") == API_KEY,
    }


def main():
    cases = json.load(sys.stdin)
    stdout, sys.stdout = sys.stdout, sys.stderr  # nothing but the JSON on stdout
    try:
        client = DerivativesTradingUsdsFutures(
            config_rest_api=ConfigurationRestAPI(
                api_key=API_KEY, api_secret=API_SECRET, base_path=BASE_PATH
            )
        )
        rest_api = client.rest_api
        out = []
        for case in cases:
            try:
                out.append(run(rest_api, case))
            except Exception as e:  # the SDK refused: report it, do not stop
                out.append({"error": f"{type(e).__name__}: {e}"})
    finally:
        sys.stdout = stdout
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
