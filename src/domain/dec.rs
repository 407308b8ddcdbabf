//! Serde for decimals: the usual text form in human-readable formats (JSON, TOML: unchanged for
//! the API and config), and the 16-byte binary form in binary ones (journal, snapshots), which
//! decodes without parsing text. Use with `#[serde(with = "crate::domain::dec")]`.
//!
//! # Invariants
//! - Binary input is validated (only the sign bit and a scale ≤ 28 in the flags word), so a
//!   corrupt record is a decode error, never a malformed `Decimal`.

use rust_decimal::Decimal;
use serde::de::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        Serialize::serialize(d, s)
    } else {
        Serialize::serialize(&d.serialize(), s)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    if d.is_human_readable() {
        return <Decimal as Deserialize>::deserialize(d);
    }
    let b = <[u8; 16]>::deserialize(d)?;
    let flags = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let scale = (flags >> 16) & 0xff;
    if flags & 0x7f00_ffff != 0 || scale > 28 {
        return Err(D::Error::custom(format!(
            "invalid decimal flags {flags:#x}"
        )));
    }
    Ok(Decimal::deserialize(b))
}
