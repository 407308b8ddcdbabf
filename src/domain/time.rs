//! Time as a value. The core never reads a clock: the shell passes `now` in.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (the API's unit for every `*_time` field).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn millis(self) -> u64 {
        self.0
    }

    pub fn saturating_sub(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
