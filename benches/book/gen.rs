//! The deterministic order stream, generated up front (untimed).
//!
//! A *shadow* `perpx::book::Book` runs every generated op so the generator knows which orders
//! rest (cancels and amends always name a live order), their prices and remaining quantities
//! (for the amend emulation of peers without amend), the last trade price (amend target) and
//! the resting count (steady-state control). The same shadow yields the expected trade count
//! after every op, which the measured runs are checked against.

use perpx::book::{Book, TakeBounds};
use perpx::domain::{AccountId, BookEvent, OrderId, Price, Qty, Side};
use rustc_hash::FxHashMap;

use crate::ops::{new_order, Kind, Op, Profile, Rng, KIND_NAMES};

/// Starting mid price in ticks (far from zero so every peer's unsigned prices stay valid).
pub const MID0: i64 = 1_000_000;
/// Passive prices are `mid ∓ (1 + min(U, U))`, U uniform in `[0, HALF_BAND)`: about
/// `2 × HALF_BAND` levels in use, with density falling linearly away from the mid (more
/// liquidity near the top, as in real books; uniform placement let market orders eat the top
/// faster than it refilled and widened the spread to ~200 ticks at 100,000 orders).
pub const HALF_BAND: u64 = 500;
/// Aggressive prices are `mid ± U[0, AGGRESSION)`: they cross when the opposite best is there.
pub const AGGRESSION: u64 = 8;
/// Share (per mille) of GTC orders priced aggressively; IOC orders always are.
pub const GTC_AGGRESSIVE_PER_MILLE: u64 = 100;
/// The mid takes a ±1 tick step with probability 1/MID_STEP_EVERY per stream op.
pub const MID_STEP_EVERY: u64 = 64;
/// Amends move an order `ceil(|ltp − price| / AMEND_DIVISOR)` ticks toward the last trade
/// price (±1 at random when already there).
pub const AMEND_DIVISOR: i64 = 8;
/// Accounts orders are spread over (STP is off, so they only matter to perpx's bookkeeping).
pub const ACCOUNTS: u64 = 1_000;

/// What the generator saw while producing a stream (from its shadow perpx book).
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    /// Ops per kind, indexed by `Kind as usize`.
    pub kinds: [u64; 5],
    /// Ops of each kind that traded at least once.
    pub crossed: [u64; 5],
    /// GTC ops forced because the book was below its target size.
    pub forced_gtc: u64,
    /// Cancels drawn instead of a GTC because the book was above its target size.
    pub forced_cancel: u64,
    /// Resting orders: min and max seen after any stream op, and at the end.
    pub len_min: usize,
    pub len_max: usize,
    pub len_end: usize,
    /// Live price levels (bids + asks) after pre-fill and at the end.
    pub levels_prefill: usize,
    pub levels_end: usize,
    /// Best bid/ask at the end (ticks), and the mid's total drift.
    pub spread_end: (Option<i64>, Option<i64>),
    pub mid_end: i64,
}

impl GenStats {
    pub fn mix_line(&self) -> String {
        let total: u64 = self.kinds.iter().sum();
        let pct = |n: u64| 100.0 * n as f64 / total.max(1) as f64;
        let mut parts = Vec::new();
        for (i, name) in KIND_NAMES.iter().enumerate() {
            if self.kinds[i] > 0 {
                parts.push(format!(
                    "{name} {:.1}% ({:.1}% of them traded)",
                    pct(self.kinds[i]),
                    100.0 * self.crossed[i] as f64 / self.kinds[i] as f64
                ));
            }
        }
        format!(
            "{}; steady-state control: GTC instead of the draw (book below target) {:.2}%, \
             cancel instead of a GTC (book above target) {:.2}%",
            parts.join(", "),
            pct(self.forced_gtc),
            pct(self.forced_cancel)
        )
    }
}

/// A pre-fill (identical for every profile at a size) or a timed stream.
pub struct Stream {
    pub ops: Vec<Op>,
    /// `trades_upto[i]`: trades the shadow perpx book made in `ops[..i]`.
    pub trades_upto: Vec<u64>,
    /// `qty_upto[i]`: quantity (lots) the shadow book traded in `ops[..i]`.
    pub qty_upto: Vec<u64>,
    /// `resting_upto[i]`: resting orders in the shadow book after `ops[..i]`.
    pub resting_upto: Vec<u32>,
    pub stats: GenStats,
}

/// The generator's state: the shadow book plus the live-order set for O(1) random picks.
pub struct Gen {
    rng: Rng,
    book: Book,
    events: Vec<BookEvent>,
    live: Vec<u64>,
    pos: FxHashMap<u64, usize>,
    mid: i64,
    next_id: u64,
    target: usize,
}

impl Gen {
    /// Pre-fill a book with `target` passive GTC orders (identical for every profile).
    pub fn prefill(target: usize) -> (Gen, Stream) {
        let mut g = Gen {
            rng: Rng::new(0x5EED_0000 ^ target as u64),
            book: Book::new(u32::MAX),
            events: Vec::with_capacity(64),
            live: Vec::with_capacity(target * 2),
            pos: FxHashMap::default(),
            mid: MID0,
            next_id: 0,
            target,
        };
        let mut ops = Vec::with_capacity(target);
        let (mut trades_upto, mut qty_upto, mut resting_upto) = (vec![0], vec![0], vec![0]);
        while g.book.len() < target {
            let side = g.rng.side();
            let price = g.passive(side);
            let op = g.limit(side, price, false);
            let (trades, qty) = g.apply(&op);
            trades_upto.push(trades_upto.last().copied().unwrap_or(0) + trades);
            qty_upto.push(qty_upto.last().copied().unwrap_or(0) + qty);
            resting_upto.push(g.book.len() as u32);
            ops.push(op);
        }
        let stats = GenStats {
            levels_prefill: g.levels(),
            len_end: g.book.len(),
            ..GenStats::default()
        };
        (
            g,
            Stream {
                ops,
                trades_upto,
                qty_upto,
                resting_upto,
                stats,
            },
        )
    }

    /// Continue from a pre-filled state with `n` ops of `profile`.
    pub fn stream(mut self, profile: Profile, n: usize, seed: u64) -> Stream {
        self.rng = Rng::new(seed);
        let mut st = GenStats {
            levels_prefill: self.levels(),
            len_min: usize::MAX,
            ..GenStats::default()
        };
        let mut ops = Vec::with_capacity(n);
        let mut trades_upto = Vec::with_capacity(n + 1);
        trades_upto.push(0);
        let mut qty_upto = Vec::with_capacity(n + 1);
        qty_upto.push(0);
        let mut resting_upto = Vec::with_capacity(n + 1);
        resting_upto.push(self.book.len() as u32);
        for _ in 0..n {
            if self.rng.below(MID_STEP_EVERY) == 0 {
                self.mid += if self.rng.next_u64() & 1 == 0 { 1 } else { -1 };
            }
            let mut kind = profile.draw(&mut self.rng);
            // Steady state: hold the resting count within target ± max(2 %, 10).
            let slack = (self.target / 50).max(10);
            if self.book.len() < self.target - slack && kind != Kind::Gtc {
                kind = Kind::Gtc;
                st.forced_gtc += 1;
            } else if self.book.len() > self.target + slack && kind == Kind::Gtc {
                kind = Kind::Cancel;
                st.forced_cancel += 1;
            }
            let op = self.make(kind);
            let (trades, qty) = self.apply(&op);
            let k = kind as usize;
            st.kinds[k] += 1;
            st.crossed[k] += u64::from(trades > 0);
            trades_upto.push(trades_upto.last().copied().unwrap_or(0) + trades);
            qty_upto.push(qty_upto.last().copied().unwrap_or(0) + qty);
            resting_upto.push(self.book.len() as u32);
            ops.push(op);
            st.len_min = st.len_min.min(self.book.len());
            st.len_max = st.len_max.max(self.book.len());
        }
        st.len_end = self.book.len();
        st.levels_end = self.levels();
        st.spread_end = (
            self.book.best_bid().map(|p| p.0),
            self.book.best_ask().map(|p| p.0),
        );
        st.mid_end = self.mid;
        Stream {
            ops,
            trades_upto,
            qty_upto,
            resting_upto,
            stats: st,
        }
    }

    /// A copy of the pre-filled state, to generate another profile from the same book.
    pub fn fork(&self) -> Gen {
        Gen {
            rng: Rng::new(0),
            book: self.book.clone(),
            events: Vec::with_capacity(64),
            live: self.live.clone(),
            pos: self.pos.clone(),
            mid: self.mid,
            next_id: self.next_id,
            target: self.target,
        }
    }

    fn levels(&self) -> usize {
        self.book.side(Side::Buy).live_levels() + self.book.side(Side::Sell).live_levels()
    }

    fn passive(&mut self, side: Side) -> i64 {
        let (a, b) = (self.rng.below(HALF_BAND), self.rng.below(HALF_BAND));
        let off = 1 + a.min(b) as i64;
        match side {
            Side::Buy => self.mid - off,
            Side::Sell => self.mid + off,
        }
    }

    fn aggressive(&mut self, side: Side) -> i64 {
        let off = self.rng.below(AGGRESSION) as i64;
        match side {
            Side::Buy => self.mid + off,
            Side::Sell => self.mid - off,
        }
    }

    fn account(&mut self) -> u64 {
        AccountId::FIRST_USER + self.rng.below(ACCOUNTS)
    }

    fn limit(&mut self, side: Side, price: i64, ioc: bool) -> Op {
        let id = self.next_id;
        self.next_id += 1;
        Op::Limit {
            id,
            account: self.account(),
            side,
            price,
            qty: self.rng.size(),
            ioc,
        }
    }

    fn make(&mut self, kind: Kind) -> Op {
        let side = self.rng.side();
        match kind {
            Kind::Gtc => {
                let price = if self.rng.below(1000) < GTC_AGGRESSIVE_PER_MILLE {
                    self.aggressive(side)
                } else {
                    self.passive(side)
                };
                self.limit(side, price, false)
            }
            Kind::Ioc => {
                let price = self.aggressive(side);
                self.limit(side, price, true)
            }
            Kind::Market => {
                let id = self.next_id;
                self.next_id += 1;
                Op::Market {
                    id,
                    account: self.account(),
                    side,
                    qty: self.rng.size(),
                }
            }
            Kind::Cancel | Kind::Amend => {
                // The book is never empty here: a GTC is forced well before that.
                let id = self.live[self.rng.below(self.live.len() as u64) as usize];
                self.next_id += 1; // the op still takes a sequence number
                let n = *self
                    .book
                    .order(OrderId(id))
                    .expect("live order not in shadow");
                if kind == Kind::Cancel {
                    return Op::Cancel {
                        id,
                        account: n.account.0,
                    };
                }
                let ltp = self.book.last_price().map_or(self.mid, |p| p.0);
                let d = ltp - n.price.0;
                let step = if d == 0 {
                    if self.rng.next_u64() & 1 == 0 {
                        1
                    } else {
                        -1
                    }
                } else {
                    d.signum() * ((d.abs() + AMEND_DIVISOR - 1) / AMEND_DIVISOR)
                };
                Op::Amend {
                    id,
                    account: n.account.0,
                    side: n.side,
                    price: n.price.0 + step,
                    remaining: n.remaining.0,
                }
            }
        }
    }

    /// Run `op` on the shadow book, keep the live set in step; returns the trades it made and
    /// the quantity they traded.
    fn apply(&mut self, op: &Op) -> (u64, u64) {
        self.events.clear();
        let own = match *op {
            Op::Limit {
                id,
                account,
                side,
                price,
                qty,
                ioc,
            } => {
                let o = new_order(id, account, side, Some(price), qty, ioc);
                self.book
                    .submit(o, &TakeBounds::UNBOUNDED, &mut self.events)
                    .expect("shadow submit");
                id
            }
            Op::Market {
                id,
                account,
                side,
                qty,
            } => {
                let o = new_order(id, account, side, None, qty, false);
                self.book
                    .submit(o, &TakeBounds::UNBOUNDED, &mut self.events)
                    .expect("shadow market");
                id
            }
            Op::Cancel { id, account } => {
                self.book
                    .cancel(
                        OrderId(id),
                        Some(AccountId(account)),
                        perpx::domain::CloseReason::User,
                        &mut self.events,
                    )
                    .expect("shadow cancel");
                id
            }
            Op::Amend {
                id, account, price, ..
            } => {
                self.book
                    .amend(
                        OrderId(id),
                        AccountId(account),
                        Some(Price(price)),
                        None,
                        Qty::ZERO,
                        &mut self.events,
                    )
                    .expect("shadow amend");
                id
            }
        };
        let (mut trades, mut qty) = (0, 0);
        let mut touched = vec![own];
        for e in &self.events {
            if let BookEvent::Trade(t) = e {
                trades += 1;
                qty += t.qty.0 as u64;
                touched.push(t.maker.order_id.0);
            }
        }
        touched.dedup();
        for id in touched {
            self.sync(id);
        }
        (trades, qty)
    }

    fn sync(&mut self, id: u64) {
        let resting = self.book.order(OrderId(id)).is_some();
        match (resting, self.pos.get(&id).copied()) {
            (true, None) => {
                self.pos.insert(id, self.live.len());
                self.live.push(id);
            }
            (false, Some(i)) => {
                self.pos.remove(&id);
                self.live.swap_remove(i);
                if let Some(&moved) = self.live.get(i) {
                    self.pos.insert(moved, i);
                }
            }
            _ => {}
        }
    }
}
