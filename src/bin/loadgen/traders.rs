//! Simulated traders: market makers quoting and re-pricing around a moving index, takers
//! sending market and crossing IOC orders, and cancels. Each call of [`Traders::step`] sends one
//! request and reports what came back.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use awc::http::Method;
use rust_decimal::Decimal;
use serde_json::json;

use crate::client::{Account, Answer, Api};

/// One market as the loader trades it.
#[derive(Clone, Debug)]
pub struct Market {
    pub symbol: String,
    pub tick: Decimal,
    pub lot: Decimal,
    /// Mid in ticks, moved by the index driver (shared with worker threads).
    pub mid: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The fewest lots whose notional clears `min_notional` at the starting mark (×2 margin).
    pub min_lots: i64,
}

impl Market {
    fn price(&self, ticks: i64) -> String {
        (Decimal::from(ticks) * self.tick).normalize().to_string()
    }

    /// `k` units of the market's minimum size.
    fn qty(&self, k: i64) -> String {
        perpx::domain::Qty(k * self.min_lots).text(self.lot)
    }
}

/// Small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One maker's open quotes in one market: `(order id, is a buy)`, oldest first.
type Quotes = VecDeque<(u64, bool)>;

/// What a step did.
pub enum Kind {
    Place,
    Cancel,
    Amend,
}

/// Which market a step trades: every market alike (`skew` 0), or the market of rank `i`
/// (from 1, in the server's order) with weight `1 / i^skew`, as on a venue where a few markets
/// take most of the flow (`skew` 1 over 500 markets: the first gets about 15 %, the last
/// 0.03 %).
pub struct MarketPicker {
    cumulative: Vec<u64>,
}

impl MarketPicker {
    pub fn new(markets: usize, skew: f64) -> MarketPicker {
        let mut total = 0u64;
        let cumulative = (0..markets.max(1))
            .map(|i| {
                total += ((1e9 / ((i + 1) as f64).powf(skew.max(0.0))).round() as u64).max(1);
                total
            })
            .collect();
        MarketPicker { cumulative }
    }

    pub fn pick(&self, rng: &mut Rng) -> usize {
        let r = rng.below(self.cumulative.last().copied().unwrap_or(1));
        self.cumulative.partition_point(|&c| c <= r)
    }
}

pub struct Traders {
    pub api: Api,
    pub markets: Vec<Market>,
    picker: MarketPicker,
    pub makers: Vec<Account>,
    pub takers: Vec<Account>,
    /// Open quotes per (maker, market), oldest first.
    open: Rc<RefCell<Vec<Quotes>>>,
}

/// Quotes a maker keeps per market before it cancels its oldest.
const MAX_QUOTES: usize = 60;

impl Traders {
    pub fn new(
        api: Api,
        markets: Vec<Market>,
        makers: Vec<Account>,
        takers: Vec<Account>,
        skew: f64,
    ) -> Traders {
        let slots = makers.len() * markets.len();
        Traders {
            picker: MarketPicker::new(markets.len(), skew),
            api,
            markets,
            makers,
            takers,
            open: Rc::new(RefCell::new(vec![VecDeque::new(); slots])),
        }
    }

    /// One request: 40 % maker quote, 20 % cancel, 10 % amend, 25 % taker IOC, 5 % market.
    pub async fn step(&self, rng: &mut Rng) -> (Kind, Answer) {
        let m = self.picker.pick(rng);
        let market = &self.markets[m];
        let roll = rng.below(100);
        let maker_i = rng.below(self.makers.len() as u64) as usize;
        let slot = maker_i * self.markets.len() + m;
        let orders = format!("/api/v1/markets/{}/orders", market.symbol);
        let mid = market.mid.load(std::sync::atomic::Ordering::Relaxed);
        let must_cancel = self.open.borrow()[slot].len() >= MAX_QUOTES;
        if (must_cancel || (40..60).contains(&roll)) && !self.open.borrow()[slot].is_empty() {
            let (id, _) = self.open.borrow_mut()[slot].pop_front().unwrap_or_default();
            let r = self
                .api
                .signed(
                    &self.makers[maker_i],
                    Method::DELETE,
                    &format!("{orders}/{id}"),
                    "",
                )
                .await;
            return (Kind::Cancel, r);
        }
        if (60..70).contains(&roll) && !self.open.borrow()[slot].is_empty() {
            let (id, side_buy) = self.open.borrow()[slot].back().copied().unwrap_or_default();
            let off = 1 + rng.below(20) as i64;
            let px = if side_buy { mid - off } else { mid + off };
            let body = json!({"price": market.price(px)}).to_string();
            let r = self
                .api
                .signed(
                    &self.makers[maker_i],
                    Method::PATCH,
                    &format!("{orders}/{id}"),
                    &body,
                )
                .await;
            if r.status >= 300 || r.body["status"].as_str().is_some_and(|s| s == "filled") {
                self.open.borrow_mut()[slot].retain(|&(o, _)| o != id);
            }
            return (Kind::Amend, r);
        }
        if roll < 60 {
            // A quote 1..20 ticks away from the mid, on a random side.
            let buy = rng.below(2) == 0;
            let off = 1 + rng.below(20) as i64;
            let px = if buy { mid - off } else { mid + off };
            let body = json!({"side": if buy {"buy"} else {"sell"}, "type": "limit", "time_in_force": "post_only",
                              "price": market.price(px), "quantity": market.qty(1 + rng.below(5) as i64)})
            .to_string();
            let r = self
                .api
                .signed(&self.makers[maker_i], Method::POST, &orders, &body)
                .await;
            if let (201, Some(id)) = (r.status, r.body["order_id"].as_u64()) {
                self.open.borrow_mut()[slot].push_back((id, buy));
            }
            return (Kind::Place, r);
        }
        let taker = &self.takers[rng.below(self.takers.len() as u64) as usize];
        let buy = rng.below(2) == 0;
        let body = if roll < 95 {
            let px = if buy { mid + 30 } else { mid - 30 };
            json!({"side": if buy {"buy"} else {"sell"}, "type": "limit", "time_in_force": "ioc",
                   "price": market.price(px), "quantity": market.qty(1 + rng.below(3) as i64)})
        } else {
            json!({"side": if buy {"buy"} else {"sell"}, "type": "market", "quantity": market.qty(1 + rng.below(3) as i64)})
        };
        (
            Kind::Place,
            self.api
                .signed(taker, Method::POST, &orders, &body.to_string())
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(n: usize, skew: f64, draws: usize) -> Vec<f64> {
        let p = MarketPicker::new(n, skew);
        let mut rng = Rng(42);
        let mut counts = vec![0usize; n];
        for _ in 0..draws {
            counts[p.pick(&mut rng)] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn no_skew_spreads_evenly_over_every_market() {
        let s = shares(8, 0.0, 80_000);
        assert!(s.iter().all(|&x| (0.115..0.135).contains(&x)), "{s:?}");
    }

    #[test]
    fn skew_one_over_500_markets_follows_one_over_rank() {
        let s = shares(500, 1.0, 400_000);
        // 1 / H(500) = 0.147; rank 2 half of it; every market still traded now and then.
        assert!((0.14..0.155).contains(&s[0]), "{}", s[0]);
        assert!((s[1] / s[0] - 0.5).abs() < 0.05, "{} {}", s[0], s[1]);
        assert!(s.iter().filter(|&&x| x > 0.0).count() > 450);
    }
}
