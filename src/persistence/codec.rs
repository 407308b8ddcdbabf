//! The journal's record format: one [`Batch`] per command (R1 ledger events, the market's
//! events, R2 ledger events), encoded with `postcard` behind a one-byte format tag so a future
//! format can be told apart. Replay decodes batches in sequence order and applies them through
//! the same `apply` code as live processing.

use serde::{Deserialize, Serialize};

use crate::domain::MarketId;
use crate::domain::{OrderId, Timestamp};
use crate::engine::market::MarketEvent;
use crate::engine::LedgerEvent;

/// Tag of the current record format (2: fills record their fee residue).
pub const RECORD_FORMAT: u8 = 2;

/// What one command changed, in the order it was applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub time: Timestamp,
    pub market: Option<MarketId>,
    /// Ledger events of R1 (the margin hold), applied before the market's events.
    pub r1: Vec<LedgerEvent>,
    pub market_events: Vec<MarketEvent>,
    /// Ledger events of R2 (fills, releases), and of ledger-only commands.
    pub r2: Vec<LedgerEvent>,
    /// Client order ids of orders accepted in this batch (kept out of the market events,
    /// which the matching core does not need them for).
    pub client_ids: Vec<(OrderId, String)>,
}

impl Batch {
    pub fn new(
        market: MarketId,
        r1: Vec<LedgerEvent>,
        market_events: Vec<MarketEvent>,
        r2: Vec<LedgerEvent>,
        time: Timestamp,
    ) -> Batch {
        Batch {
            time,
            market: Some(market),
            r1,
            market_events,
            r2,
            client_ids: Vec::new(),
        }
    }

    /// A batch of ledger-only events (deposits, leverage, marks, funding, liquidation steps).
    pub fn ledger(events: Vec<LedgerEvent>, time: Timestamp) -> Batch {
        Batch {
            time,
            r2: events,
            ..Batch::default()
        }
    }

    pub fn len(&self) -> usize {
        self.r1.len() + self.market_events.len() + self.r2.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("record format {0} is not known to this build")]
    UnknownFormat(u8),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] postcard::Error),
}

pub fn encode(b: &Batch) -> Vec<u8> {
    // One allocation for a typical order's batch (a few hundred bytes), written in place.
    let mut out = Vec::with_capacity(512);
    out.push(RECORD_FORMAT);
    // expect: every field is plain data that postcard always serializes.
    postcard::to_extend(b, out).expect("batch serializes")
}

pub fn decode(bytes: &[u8]) -> Result<Batch, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&RECORD_FORMAT, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&v, _)) => Err(DecodeError::UnknownFormat(v)),
    }
}
