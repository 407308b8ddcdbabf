//! How much history each account keeps (closed orders, fills, income records): `[server]`
//! `keep_closed_orders`, `keep_fills`, `keep_income` in `markets.toml`. Open orders are always
//! kept. Limits are settings, not state: live, replay and recovery apply the configured ones,
//! and a lowered limit trims an account's history at its next addition.

/// Per-account history bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub closed_orders: usize,
    pub fills: usize,
    pub income: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            closed_orders: 1000,
            fills: 5000,
            income: 1000,
        }
    }
}
