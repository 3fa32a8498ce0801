//! Differential test against the official client, py-clob-client-v2 1.2.1:
//! every price of the 0.1, 0.01, 0.001 and 0.0001 ticks, BUY and SELL,
//! limit and market, a spread of sizes and amounts, V1 and V2, plain and
//! neg-risk tokens, built by the plugin and by the client's `OrderBuilder`
//! (`oracle/orders.py`, all cases in one Python process).
//!
//! Each case ends in one class; anything else fails the test:
//!
//! | class | meaning |
//! |---|---|
//! | `match` | maker and taker amounts, side, token, signature type, exchange and EIP-712 digest equal; for a sample, the client's signature equals the plugin's and recovers to the signer |
//! | `refused` | the price is off the tick: the plugin refuses it (`invalid_params` naming the tick), the client rounds it |
//! | `float_input` | the client's float rounding of an input lost a unit (`floor(0.29 * 100) = 28`); the client fed exact decimals computes the plugin's amounts, and the plugin's order with the client's amounts has the client's digest |
//! | `float_precision` | the client's taker, past 2^53 at `amount + 4` decimals, lost its last unit; the plugin's order with the client's amounts has the client's digest |
//!
//! The interpreter comes from `RESILIENCE_ORACLE_PYTHON` (a Python with
//! py-clob-client-v2==1.2.1); without it the test is skipped, except under
//! `CI`, where it fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use polymarket::order::Order;
use polymarket::params::{LimitOrderParams, MarketOrderParams, Side};
use polymarket::placement::OrderIntent;
use polymarket::settings::OrderSettings;
use resilience_guest::VenueError;
use resilience_guest::encoding::hex_encode;
use resilience_guest::testing::MockHost;
use serde_json::{Value, json};

const ORACLE_VAR: &str = "RESILIENCE_ORACLE_PYTHON";
/// Hardhat account 0, as in `oracle/orders.py`.
const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
/// Neg-risk exchanges on Polygon: V1 and V2 (py-clob-client-v2 `config.py`).
const NEG_RISK_V1: &str = "0xC5d563A36AE78145C45a50134d48A1215220f80a";
const NEG_RISK_V2: &str = "0xe2222d279d744050d28e00520010520000310F59";

const SIZES: [&str; 12] = [
    "1", "5", "10", "12.5", "0.29", "10.12", "10.123", "25", "33.33", "100", "1234.56", "7.77",
];
const AMOUNTS: [&str; 10] = [
    "1", "10", "25", "100", "0.57", "2.01", "99.99", "10.005", "3", "1234.56",
];
/// `(tick, price decimals, amount decimals, sizes per price and kind/side)`.
/// Every price of every tick is built; the coarse ticks with more sizes.
const TICKS: [(&str, u32, u32, usize); 4] = [
    ("0.1", 1, 3, 12),
    ("0.01", 2, 4, 4),
    ("0.001", 3, 5, 1),
    ("0.0001", 4, 6, 0),
];

#[derive(Debug, Clone)]
struct Case {
    tick: &'static str,
    limit: bool,
    side: Side,
    price: String,
    size: String,
    neg_risk: bool,
    version: u8,
    salt: u64,
    sign: bool,
}

fn price_text(i: u64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    format!(
        "{}.{:0width$}",
        i / scale,
        i % scale,
        width = decimals as usize
    )
}

fn cases() -> Vec<Case> {
    let combos = [
        (true, Side::Buy),
        (true, Side::Sell),
        (false, Side::Buy),
        (false, Side::Sell),
    ];
    let mut out = Vec::new();
    let mut push = |tick, limit, side, price: String, size: &str| {
        let n = out.len() as u64;
        out.push(Case {
            tick,
            limit,
            side,
            price,
            size: size.to_string(),
            neg_risk: n.is_multiple_of(3),
            version: if n.is_multiple_of(7) { 1 } else { 2 },
            salt: 1_000_003 * n % (1 << 40),
            sign: n.is_multiple_of(97),
        });
    };
    for (tick, decimals, _, per) in TICKS {
        let n = 10u64.pow(decimals);
        for i in 1..n {
            let price = price_text(i, decimals);
            if per == 0 {
                // The finest tick: every price once, kind and side in turn.
                let (limit, side) = combos[(i % 4) as usize];
                let sizes: &[&str] = if limit { &SIZES } else { &AMOUNTS };
                push(
                    tick,
                    limit,
                    side,
                    price,
                    sizes[(i as usize / 4) % sizes.len()],
                );
                continue;
            }
            for (c, (limit, side)) in combos.into_iter().enumerate() {
                let sizes: &[&str] = if limit { &SIZES } else { &AMOUNTS };
                for k in 0..per {
                    let size = sizes[(i as usize * per + k + c) % sizes.len()];
                    push(tick, limit, side, price.clone(), size);
                }
            }
        }
    }
    // Off-tick prices: the client rounds them, the plugin refuses them.
    for (tick, price) in [
        ("0.01", "0.505"),
        ("0.01", "0.015"),
        ("0.001", "0.5005"),
        ("0.1", "0.25"),
    ] {
        for (limit, side) in combos {
            push(tick, limit, side, price.to_string(), "10");
        }
    }
    out
}

fn oracle_input(cases: &[Case]) -> Value {
    Value::Array(
        cases
            .iter()
            .map(|c| {
                let mut v = json!({
                    "kind": if c.limit { "limit" } else { "market" },
                    "side": c.side.as_str(), "token_id": TOKEN, "price": c.price,
                    "tick": c.tick, "neg_risk": c.neg_risk, "version": c.version,
                    "chain_id": 137, "salt": c.salt, "timestamp_ms": 1_710_000_000_000u64,
                    "fee_rate_bps": if c.version == 1 { 100 } else { 0 }, "expiration": 0,
                    "sign": c.sign,
                });
                v[if c.limit { "size" } else { "amount" }] = json!(c.size);
                v
            })
            .collect(),
    )
}

fn run_oracle(python: &str, input: &Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/oracle/orders.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{ORACLE_VAR}={python} does not start: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.to_string().as_bytes())
        .expect("cases written");
    drop(stdin);
    let out = child.wait_with_output().expect("oracle finishes");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle prints JSON")
}

/// The plugin's order for a case, from completed params as `prepare` leaves them.
fn plugin_order(c: &Case, s: &OrderSettings) -> Result<Order, VenueError> {
    let placement = if c.limit {
        LimitOrderParams {
            token_id: TOKEN.into(),
            side: c.side,
            price: c.price.clone(),
            size: c.size.clone(),
            order_type: None,
            expiration: None,
            post_only: None,
            neg_risk: Some(c.neg_risk),
            tick_size: Some(c.tick.into()),
            fee_rate_bps: (c.version == 1).then_some(100),
            salt: Some(c.salt),
            timestamp_ms: Some(1_710_000_000_000),
        }
        .build(s)?
    } else {
        MarketOrderParams {
            token_id: TOKEN.into(),
            side: c.side,
            amount: c.size.clone(),
            price: Some(c.price.clone()),
            order_type: None,
            neg_risk: Some(c.neg_risk),
            tick_size: Some(c.tick.into()),
            fee_rate_bps: (c.version == 1).then_some(100),
            salt: Some(c.salt),
            timestamp_ms: Some(1_710_000_000_000),
        }
        .build(s)?
    };
    Ok(placement.order)
}

/// Hundredths of a decimal, rounded down (the exact form of the client's rule).
fn hundredths(text: &str) -> u128 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(2).collect();
    format!("{whole}{frac}").parse().unwrap()
}

fn price_units(text: &str, decimals: u32) -> u128 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac: String = frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(decimals as usize)
        .collect();
    format!("{whole}{frac}").parse().unwrap()
}

fn digest_hex(order: &Order) -> String {
    format!("0x{}", hex_encode(order.digest().unwrap()))
}

#[test]
fn orders_match_the_official_client() {
    let python = match std::env::var(ORACLE_VAR) {
        Ok(p) if !p.is_empty() => p,
        _ if std::env::var_os("CI").is_some() => {
            panic!("{ORACLE_VAR} is not set: CI must run the differential test")
        }
        _ => {
            println!("skipped: set {ORACLE_VAR} to a python with py-clob-client-v2==1.2.1");
            return;
        }
    };
    let cases = cases();
    let answers = run_oracle(&python, &oracle_input(&cases));
    assert_eq!(answers.len(), cases.len());

    let mock = MockHost::new()
        .setting("address", ADDRESS)
        .secret("private_key", KEY);
    let settings: BTreeMap<u8, OrderSettings> = [1, 2]
        .map(|v| (v, mock.run(|| OrderSettings::read_for(Some(v))).unwrap()))
        .into();
    let amount_decimals: BTreeMap<&str, (u32, u32)> =
        TICKS.iter().map(|(t, p, a, _)| (*t, (*p, *a))).collect();

    let mut counts: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let (mut signed, mut neg_risk_signed) = (0, 0);
    for (c, a) in cases.iter().zip(&answers) {
        let kind = if c.limit { "limit" } else { "market" };
        let mut fail = |why: String| failures.push(format!("{c:?}: {why}\n  oracle: {a}"));
        let class = match (plugin_order(c, &settings[&c.version]), a.get("error")) {
            (Err(VenueError::InvalidParams(m)), _) if m.contains("tick size") => "refused",
            (Err(e), _) => {
                fail(format!("plugin refused: {e:?}"));
                continue;
            }
            (Ok(_), Some(e)) => {
                fail(format!("the client refused: {e}"));
                continue;
            }
            (Ok(order), None) => {
                let same_frame = a["side"] == c.side.as_str()
                    && a["token_id"] == TOKEN
                    && a["signature_type"] == 0
                    && a["salt"] == c.salt
                    && a["exchange"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case(&order.exchange);
                if !same_frame {
                    fail(format!(
                        "side/token/signature type/salt/exchange differ: {order:?}"
                    ));
                    continue;
                }
                if c.neg_risk {
                    let expected = if c.version == 1 {
                        NEG_RISK_V1
                    } else {
                        NEG_RISK_V2
                    };
                    assert_eq!(order.exchange, expected, "{c:?}");
                }
                let amounts = (order.maker_amount.as_str(), order.taker_amount.as_str());
                let oracle = (
                    a["maker_amount"].as_str().unwrap(),
                    a["taker_amount"].as_str().unwrap(),
                );
                // The plugin's order carrying the client's amounts: equal
                // digests prove the amounts are the only difference.
                let mut with_oracle_amounts = order.clone();
                with_oracle_amounts.maker_amount = oracle.0.to_string();
                with_oracle_amounts.taker_amount = oracle.1.to_string();
                if digest_hex(&with_oracle_amounts) != a["digest"] {
                    fail("digest differs beyond the amounts".into());
                    continue;
                }
                if amounts == oracle {
                    if c.sign {
                        let sig = mock.run(|| order.sign()).unwrap();
                        assert_eq!(a["signature"], sig, "{c:?}");
                        assert_eq!(a["recovered"], ADDRESS, "{c:?}");
                        signed += 1;
                        neg_risk_signed += usize::from(c.neg_risk);
                    }
                    "match"
                } else {
                    let (pd, ad) = amount_decimals[c.tick];
                    let decimal = (
                        a["decimal_maker"].as_str().unwrap(),
                        a["decimal_taker"].as_str().unwrap(),
                    );
                    let input_lost = a["float_size"].as_u64().map(u128::from)
                        != Some(hundredths(&c.size))
                        || a["float_price"].as_u64().map(u128::from)
                            != Some(price_units(&c.price, pd));
                    let taker: u128 = order.taker_amount.parse().unwrap();
                    let oracle_taker: u128 = oracle.1.parse().unwrap();
                    let past_f64 = taker * 10u128.pow(ad + 4 - 6) >= 1 << 53;
                    if input_lost && amounts == decimal {
                        "float_input"
                    } else if past_f64 && amounts.0 == oracle.0 && taker == oracle_taker + 1 {
                        "float_precision"
                    } else {
                        fail(format!(
                            "amounts {amounts:?} vs the client's {oracle:?} (decimal inputs: {decimal:?})"
                        ));
                        continue;
                    }
                }
            }
        };
        *counts.entry((c.tick, c.side.as_str(), kind)).or_default() += 1;
        *counts.entry((c.tick, c.side.as_str(), class)).or_default() += 1;
    }

    println!(
        "differential cases against py-clob-client-v2 1.2.1: {}",
        cases.len()
    );
    for (tick, _, _, _) in TICKS {
        for side in ["BUY", "SELL"] {
            let n = |k: &str| counts.get(&(tick, side, k)).copied().unwrap_or(0);
            println!(
                "  tick {tick:<6} {side:<4}: limit {:>5}, market {:>5} | match {:>5}, refused {:>2}, float_input {:>4}, float_precision {:>2}",
                n("limit"),
                n("market"),
                n("match"),
                n("refused"),
                n("float_input"),
                n("float_precision")
            );
        }
    }
    println!("  signatures compared and recovered: {signed} ({neg_risk_signed} neg-risk)");
    assert!(
        signed > 100 && neg_risk_signed > 30,
        "the sample signs enough orders"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ without a documented reason; first ones:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
