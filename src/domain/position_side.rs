//! Position modes and position sides (docs/RULES.md §3b).
//!
//! # Invariants
//! - An account is in one [`PositionMode`]: `OneWay` (one signed position per market, side
//!   [`PositionSide::Both`]) or `Hedge` (a `Long` leg ≥ 0 and a `Short` leg ≤ 0 per market,
//!   side by side). The mode changes only while the account has no position and no open
//!   order anywhere.
//! - Every order names the leg it trades: `Both` in one-way mode, `Long` or `Short` in hedge
//!   mode. In hedge mode an order that closes its leg (`sell` + `long`, `buy` + `short`) is
//!   reduce-only: it can never open or flip a leg.
//! - A [`Leg`] (market, side) is what holds a position, its orders' margin and, when isolated,
//!   its isolated wallet. Leverage and margin mode are per market: both legs share them.

use serde::{Deserialize, Serialize};

use super::{MarketId, Side};

/// One position per market, or a long and a short side by side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionMode {
    #[default]
    OneWay,
    Hedge,
}

impl PositionMode {
    pub fn is_hedge(self) -> bool {
        self == PositionMode::Hedge
    }

    /// The wire name (`one_way`, `hedge`).
    pub fn as_str(self) -> &'static str {
        match self {
            PositionMode::OneWay => "one_way",
            PositionMode::Hedge => "hedge",
        }
    }

    /// The legs of a market in this mode.
    pub fn legs(self) -> &'static [PositionSide] {
        match self {
            PositionMode::OneWay => &[PositionSide::Both],
            PositionMode::Hedge => &[PositionSide::Long, PositionSide::Short],
        }
    }

    /// Whether `side` is a leg of this mode (`Both` in one-way; `Long`/`Short` in hedge).
    pub fn admits(self, side: PositionSide) -> bool {
        (side == PositionSide::Both) != self.is_hedge()
    }
}

/// Which position an order trades.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PositionSide {
    /// The one signed position of a one-way account.
    #[default]
    Both,
    /// The long leg of a hedge-mode account (never below 0).
    Long,
    /// The short leg of a hedge-mode account (never above 0).
    Short,
}

impl PositionSide {
    /// The wire name (`both`, `long`, `short`).
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSide::Both => "both",
            PositionSide::Long => "long",
            PositionSide::Short => "short",
        }
    }

    /// Two bits, for the packed encodings (book flags, journal bytes): 0 both, 1 long, 2 short.
    pub fn bits(self) -> u8 {
        match self {
            PositionSide::Both => 0,
            PositionSide::Long => 1,
            PositionSide::Short => 2,
        }
    }

    /// The side of [`PositionSide::bits`]; `None` for 3.
    pub fn from_bits(bits: u8) -> Option<PositionSide> {
        match bits {
            0 => Some(PositionSide::Both),
            1 => Some(PositionSide::Long),
            2 => Some(PositionSide::Short),
            _ => None,
        }
    }

    /// Whether an order on `side` closes this leg (hedge legs only: `sell` closes `long`,
    /// `buy` closes `short`). Such an order is reduce-only.
    pub fn closed_by(self, side: Side) -> bool {
        matches!(
            (self, side),
            (PositionSide::Long, Side::Sell) | (PositionSide::Short, Side::Buy)
        )
    }

    /// The hedge leg an order without its own leg (liquidation, ADL, a takeover) reduces when
    /// it trades on `side`: a sell reduces the long leg, a buy the short one.
    pub fn reduced_by(side: Side) -> PositionSide {
        match side {
            Side::Sell => PositionSide::Long,
            Side::Buy => PositionSide::Short,
        }
    }

    /// The leg of a signed position `qty` in `mode`.
    pub fn of_position(mode: PositionMode, qty: i64) -> PositionSide {
        match (mode, qty > 0) {
            (PositionMode::OneWay, _) => PositionSide::Both,
            (PositionMode::Hedge, true) => PositionSide::Long,
            (PositionMode::Hedge, false) => PositionSide::Short,
        }
    }
}

/// The journal byte of an order's `reduce_only` flag and its leg: bit 0 the flag (the byte was
/// a bool before hedge mode: 0 or 1), bits 1–2 the leg ([`PositionSide::bits`]).
pub fn pack_reduce_only(reduce_only: bool, leg: PositionSide) -> u8 {
    u8::from(reduce_only) | (leg.bits() << 1)
}

/// [`pack_reduce_only`] read back (a stray leg value 3 reads as `both`: never written).
pub fn unpack_reduce_only(byte: u8) -> (bool, PositionSide) {
    let leg = PositionSide::from_bits((byte >> 1) & 3).unwrap_or_default();
    (byte & 1 != 0, leg)
}

/// The journal byte of a trade's taker side and both legs: bit 0 the side (the byte was the
/// `Side` enum before hedge mode: 0 buy, 1 sell), bits 1–2 the taker's leg, 3–4 the maker's.
pub fn pack_trade_sides(taker_side: Side, taker: PositionSide, maker: PositionSide) -> u8 {
    let side = match taker_side {
        Side::Buy => 0,
        Side::Sell => 1,
    };
    side | (taker.bits() << 1) | (maker.bits() << 3)
}

/// [`pack_trade_sides`] read back.
pub fn unpack_trade_sides(byte: u8) -> (Side, PositionSide, PositionSide) {
    let leg = |shift: u8| PositionSide::from_bits((byte >> shift) & 3).unwrap_or_default();
    let side = if byte & 1 == 0 { Side::Buy } else { Side::Sell };
    (side, leg(1), leg(3))
}

/// One position slot of an account: a market and a position side.
///
/// Encoded as one integer, `market | side << 16` ([`PositionSide::bits`]): for side `both`
/// that is the market id itself, and postcard writes a `u16` and a `u32` of the same value
/// with the same varint bytes, so journal events that named a market before hedge mode read
/// as that market's `both` leg.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(into = "u32", try_from = "u32")]
pub struct Leg {
    pub market: MarketId,
    pub side: PositionSide,
}

impl Leg {
    pub fn new(market: MarketId, side: PositionSide) -> Leg {
        Leg { market, side }
    }

    /// The one leg of a one-way account in `market`.
    pub fn both(market: MarketId) -> Leg {
        Leg::new(market, PositionSide::Both)
    }
}

impl From<Leg> for u32 {
    fn from(l: Leg) -> u32 {
        u32::from(l.market.0) | (u32::from(l.side.bits()) << 16)
    }
}

impl TryFrom<u32> for Leg {
    type Error = String;

    fn try_from(v: u32) -> Result<Leg, String> {
        let side = u8::try_from(v >> 16)
            .ok()
            .and_then(PositionSide::from_bits)
            .ok_or_else(|| format!("leg {v:#x}: unknown position side"))?;
        Ok(Leg::new(MarketId(v as u16), side))
    }
}

impl std::fmt::Display for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.side {
            PositionSide::Both => write!(f, "market {}", self.market),
            s => write!(f, "market {} {}", self.market, s.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_admit_their_sides_only() {
        use PositionSide::*;
        assert!(PositionMode::OneWay.admits(Both));
        assert!(!PositionMode::OneWay.admits(Long));
        assert!(PositionMode::Hedge.admits(Long) && PositionMode::Hedge.admits(Short));
        assert!(!PositionMode::Hedge.admits(Both));
    }

    #[test]
    fn closing_orders_of_hedge_legs() {
        use PositionSide::*;
        assert!(Long.closed_by(Side::Sell) && !Long.closed_by(Side::Buy));
        assert!(Short.closed_by(Side::Buy) && !Short.closed_by(Side::Sell));
        assert!(!Both.closed_by(Side::Buy) && !Both.closed_by(Side::Sell));
        for s in [Both, Long, Short] {
            assert_eq!(PositionSide::from_bits(s.bits()), Some(s));
        }
        assert_eq!(PositionSide::from_bits(3), None);
    }

    #[test]
    fn a_both_leg_is_encoded_as_its_market_id() {
        for m in [0u16, 1, 127, 128, 300, u16::MAX] {
            let old = postcard::to_stdvec(&MarketId(m)).unwrap();
            assert_eq!(postcard::to_stdvec(&Leg::both(MarketId(m))).unwrap(), old);
            assert_eq!(
                postcard::from_bytes::<Leg>(&old).unwrap(),
                Leg::both(MarketId(m))
            );
            for side in [PositionSide::Long, PositionSide::Short] {
                let l = Leg::new(MarketId(m), side);
                let bytes = postcard::to_stdvec(&l).unwrap();
                assert_eq!(postcard::from_bytes::<Leg>(&bytes).unwrap(), l);
            }
        }
        assert!(postcard::from_bytes::<Leg>(&postcard::to_stdvec(&(3u32 << 16)).unwrap()).is_err());
    }
}
