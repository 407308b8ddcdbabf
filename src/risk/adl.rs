//! Auto-deleveraging ranking (docs/RULES.md §6 step 5; Binance's ranking formula).
//!
//! # Invariants
//! - `pnl% = upnl / |C|`; `effective_leverage = |q × mark| / margin_balance` (the account's
//!   cross margin balance, i.e. `|mark value − bankruptcy value|`).
//! - score = `pnl% × effective_leverage` when profitable, `pnl% / effective_leverage` otherwise.
//! - The order is total and deterministic: score descending, then account id ascending.

use rust_decimal::Decimal;

use crate::domain::AccountId;

/// One opposite position that may be deleveraged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdlCandidate {
    pub account: AccountId,
    /// Absolute lots available to close.
    pub qty: i64,
    pub score: Decimal,
}

/// The ADL score of a position, or `None` if it cannot be ranked (flat, or an account whose
/// margin balance is not positive: it is itself a liquidation case).
pub fn adl_score(
    unrealized: Decimal,
    cost: Decimal,
    notional_abs: Decimal,
    margin_balance: Decimal,
) -> Option<Decimal> {
    if cost.is_zero() || notional_abs.is_zero() || margin_balance <= Decimal::ZERO {
        return None;
    }
    let pnl_pct = unrealized / cost.abs();
    let eff_lev = notional_abs / margin_balance;
    Some(if pnl_pct > Decimal::ZERO {
        pnl_pct * eff_lev
    } else {
        pnl_pct / eff_lev
    })
}

/// Sort candidates: highest score first, ties by account id.
pub fn rank(candidates: &mut [AdlCandidate]) {
    candidates.sort_by(|a, b| b.score.cmp(&a.score).then(a.account.cmp(&b.account)));
}

/// Take `needed` lots from ranked candidates, in order: `(account, lots)` pairs.
pub fn allocate(ranked: &[AdlCandidate], mut needed: i64) -> Vec<(AccountId, i64)> {
    let mut out = Vec::new();
    for c in ranked {
        if needed == 0 {
            break;
        }
        let take = c.qty.min(needed);
        if take > 0 {
            out.push((c.account, take));
            needed -= take;
        }
    }
    out
}
