//! The stream's vocabulary: a deterministic RNG, the ops every implementation is fed, and
//! the two profiles' op-kind weights.

use perpx::book::BookOrder;
use perpx::domain::{AccountId, OrderId, Price, Qty, Side, Stp, TimeInForce};

/// SplitMix64: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    pub fn side(&mut self) -> Side {
        if self.next_u64() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// `1 + r6·r6·r6`, r6 uniform in 0..6: sizes 1..=126 skewed small (mean 38.5).
    pub fn size(&mut self) -> i64 {
        let mut r = || self.below(6) as i64;
        1 + r() * r() * r()
    }
}

/// One operation of the stream. Ids are the op's global sequence number (pre-fill ops first),
/// which is also how matchcore numbers orders.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A limit order: GTC rests its remainder, IOC expires it.
    Limit {
        id: u64,
        account: u64,
        side: Side,
        price: i64,
        qty: i64,
        ioc: bool,
    },
    /// A market order, unbounded (perpx: `TakeBounds::UNBOUNDED`).
    Market {
        id: u64,
        account: u64,
        side: Side,
        qty: i64,
    },
    /// Cancel a resting order (always live in perpx's book at that point).
    Cancel { id: u64, account: u64 },
    /// Move a resting order to `price`, keeping its `remaining` quantity (known here so peers
    /// without amend can emulate it as cancel + new).
    Amend {
        id: u64,
        account: u64,
        side: Side,
        price: i64,
        remaining: i64,
    },
}

/// The kind of an op; `kind as usize` indexes [`KIND_NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gtc,
    Ioc,
    Market,
    Cancel,
    Amend,
}

pub const KIND_NAMES: [&str; 5] = ["gtc", "ioc", "market", "cancel", "amend"];

impl Op {
    pub fn kind(&self) -> Kind {
        match self {
            Op::Limit { ioc: false, .. } => Kind::Gtc,
            Op::Limit { ioc: true, .. } => Kind::Ioc,
            Op::Market { .. } => Kind::Market,
            Op::Cancel { .. } => Kind::Cancel,
            Op::Amend { .. } => Kind::Amend,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// 50 % GTC limit, 20 % market, 30 % cancel.
    Mix,
    /// 9 % GTC, 3 % IOC, 6 % cancel, 82 % amend-price toward the last trade price.
    ExchangeCore,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Mix => "mix",
            Profile::ExchangeCore => "exchange-core",
        }
    }
}

impl Profile {
    /// Draw an op kind with the profile's weights (per cent).
    pub fn draw(self, rng: &mut Rng) -> Kind {
        let r = rng.below(100);
        match self {
            Profile::Mix => match r {
                0..50 => Kind::Gtc,
                50..70 => Kind::Market,
                _ => Kind::Cancel,
            },
            Profile::ExchangeCore => match r {
                0..9 => Kind::Gtc,
                9..12 => Kind::Ioc,
                12..18 => Kind::Cancel,
                _ => Kind::Amend,
            },
        }
    }
}

/// The perpx order for a stream op: STP off (no peer has it), not reduce-only.
pub fn new_order(
    id: u64,
    account: u64,
    side: Side,
    price: Option<i64>,
    qty: i64,
    ioc: bool,
) -> BookOrder {
    BookOrder {
        position_side: Default::default(),
        id: OrderId(id),
        account: AccountId(account),
        side,
        price: price.map(Price),
        qty: Qty(qty),
        tif: if ioc {
            TimeInForce::Ioc
        } else {
            TimeInForce::Gtc
        },
        stp: Stp::None,
        reduce_only: false,
        position: Qty::ZERO,
        close_position: false,
    }
}
