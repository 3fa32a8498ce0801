//! `close_position`: market orders that bring a position to zero.
//!
//! | position (Position Information V3)     | order(s) |
//! |----------------------------------------|----------|
//! | none open                              | nothing: `closed: false` |
//! | one-way (`BOTH`), long / short         | SELL / BUY the amount, `reduceOnly=true` |
//! | hedge `LONG` (the given or only open side) | SELL the amount, `positionSide=LONG` (never `reduceOnly` in hedge mode) |
//! | hedge `SHORT`                          | BUY the amount, `positionSide=SHORT` |
//! | hedge, both sides open, no `position_side` | refused: `invalid_params`, say which side |
//!
//! An amount above the symbol's `MARKET_LOT_SIZE` maxQty is closed by
//! several orders of at most that size ([`SymbolFilters::market_chunks`]),
//! placed one after another. The first carries the call's client order id,
//! the `i`-th after it [`batch::item_id`]`(id, i)`, so `reconcile` finds
//! every order the call placed. If an order after the first fails, the
//! result says what was placed and the error (`complete: false`); the
//! position is then partly closed and a new call closes the rest.
//!
//! `reconcile` cannot know how many orders the interrupted call meant to
//! place, so besides the orders it finds it reads the position again:
//! `closed` is whether it is flat now (on the side asked for, in hedge
//! mode).
//!
//! [`SymbolFilters::market_chunks`]: crate::filters::SymbolFilters::market_chunks

use resilience_guest::decimal::is_decimal;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::api;
use crate::batch;
use crate::filters;
use crate::model::{Order, Position, is_zero};
use crate::orders::{self, NewOrder, OrderKind};
use crate::params::{
    ClientOrderId, ClosePositionParams, Decimal, OrderKey, OrderOptions, PositionSide, Side, Symbol,
};
use crate::rest;
use crate::session::Session;

/// Most orders one close may be split into (a position 100 times the
/// market maximum is closed in several calls).
const MAX_CHUNKS: usize = 100;

/// Position entries of `symbol`, their amounts checked to be decimals.
pub fn positions(session: &mut Session, symbol: &Symbol) -> Result<Vec<Position>, VenueError> {
    let all: Vec<Position> =
        session.call(&api::POSITION_RISK, Query::new().push("symbol", symbol))?;
    if let Some(bad) = all.iter().find(|e| !is_decimal(&e.position_amt)) {
        return Err(VenueError::parse(format!(
            "positionAmt: expected a decimal string, got {:?}",
            bad.position_amt
        )));
    }
    Ok(all.into_iter().filter(|e| e.symbol == symbol.0).collect())
}

/// The open entry to close, per the module table.
fn target(p: &ClosePositionParams, open: Vec<Position>) -> Result<Option<Position>, VenueError> {
    if let Some(side) = p.position_side {
        return Ok(open.into_iter().find(|e| e.position_side == side.as_str()));
    }
    match open.len() {
        0 | 1 => Ok(open.into_iter().next()),
        _ => Err(VenueError::invalid(format!(
            "position_side: {} has both a LONG and a SHORT position open; say which to close",
            p.symbol
        ))),
    }
}

/// Close the position (module docs).
pub fn close(
    session: &mut Session,
    p: &ClosePositionParams,
    id: &ClientOrderId,
) -> Result<Value, VenueError> {
    let open: Vec<Position> = positions(session, &p.symbol)?
        .into_iter()
        .filter(|e| !is_zero(&e.position_amt))
        .collect();
    let Some(position) = target(p, open)? else {
        return Ok(result(&p.symbol, &[], None));
    };
    let amount = &position.position_amt;
    let (side, size) = match amount.strip_prefix('-') {
        Some(size) => (Side::Buy, size),
        None => (Side::Sell, amount.as_str()),
    };
    let hedge_side = match position.position_side.as_str() {
        "LONG" => Some(PositionSide::Long),
        "SHORT" => Some(PositionSide::Short),
        _ => None,
    };
    let chunks = chunks(session, &p.symbol, size)?;
    let options = OrderOptions {
        client_order_id: None,
        reduce_only: hedge_side.is_none(),
        position_side: hedge_side,
        self_trade_prevention_mode: None,
    };
    let mut placed = Vec::with_capacity(chunks.len());
    for (i, quantity) in chunks.into_iter().enumerate() {
        let order = NewOrder::new(
            p.symbol.clone(),
            side,
            Decimal(quantity),
            OrderKind::Market,
            chunk_id(id, i),
            &options,
        );
        match orders::place(session, &order) {
            Ok(o) => placed.push(o),
            Err(e) if placed.is_empty() => return Err(e),
            Err(e) => return Ok(result(&p.symbol, &placed, Some(&e))),
        }
    }
    Ok(result(&p.symbol, &placed, None))
}

/// `size` in market orders the symbol accepts; one order when the filters
/// are off or cannot be read.
fn chunks(session: &mut Session, symbol: &Symbol, size: &str) -> Result<Vec<String>, VenueError> {
    if !filters::enabled()? {
        return Ok(vec![size.to_string()]);
    }
    let chunks = match session.filters.get(&symbol.0)? {
        Some(f) => f.market_chunks(size)?,
        None => vec![size.to_string()],
    };
    if chunks.len() > MAX_CHUNKS {
        return Err(VenueError::invalid(format!(
            "symbol: closing {size} {symbol} takes {} market orders at the symbol's maximum; \
             more than {MAX_CHUNKS} per call",
            chunks.len()
        )));
    }
    Ok(chunks)
}

/// The client order id of the `i`-th order of a close whose call id is `id`.
fn chunk_id(id: &ClientOrderId, i: usize) -> ClientOrderId {
    if i == 0 {
        id.clone()
    } else {
        batch::item_id(&id.0, i)
    }
}

/// The result: `closed` when every order needed was placed.
fn result(symbol: &Symbol, placed: &[Order], error: Option<&VenueError>) -> Value {
    let mut r = json!({
        "symbol": symbol,
        "closed": !placed.is_empty() && error.is_none(),
        "order": placed.first(),
        "orders": placed,
    });
    if let Some(e) = error {
        r["complete"] = json!(false);
        r["error"] = json!(e.to_string());
    }
    r
}

/// `reconcile`: the orders a close placed under `id`, looked up in turn,
/// and whether the position is flat now; `None` when the first order was
/// never placed.
pub fn reconcile(
    session: &mut Session,
    p: &ClosePositionParams,
    id: &ClientOrderId,
) -> Result<Option<Value>, VenueError> {
    let mut placed = Vec::new();
    for i in 0..MAX_CHUNKS {
        match orders::lookup(session, &p.symbol, &OrderKey::Client(chunk_id(id, i))) {
            Ok(order) => placed.push(order),
            Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => break,
            Err(e) => return Err(e),
        }
    }
    if placed.is_empty() {
        return Ok(None);
    }
    let still_open = positions(session, &p.symbol)?
        .into_iter()
        .filter(|e| !is_zero(&e.position_amt))
        .any(|e| {
            p.position_side
                .is_none_or(|s| e.position_side == s.as_str())
        });
    let mut r = result(&p.symbol, &placed, None);
    r["closed"] = json!(!still_open);
    Ok(Some(r))
}
