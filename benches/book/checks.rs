//! Whether each implementation did what perpx did: the per-row check shown in the results
//! table, the run's failures (an implementation with perpx's rules that disagreed: the
//! benchmark then exits with status 1), and the O(n) reference oracle's one summary line.

use crate::report::{thousands, Row};

/// Implementations that must agree with perpx's shadow exactly (same rules).
const EXACT: [&str; 3] = ["perpx", "naive", "reference"];

/// Same trades, traded quantity and resting orders as the shadow, after every op?
fn agrees(r: &Row) -> bool {
    r.tally.trades == r.shadow_trades
        && r.tally.qty == r.shadow_qty
        && r.resting.is_none_or(|n| n == r.shadow_resting)
        && r.diverged_at.is_none()
}

pub fn check(r: &Row) -> String {
    let what = if r.name == "perpx" { "shadow" } else { "perpx" };
    let mut s = if agrees(r) {
        format!("= {what}")
    } else {
        let bug = if EXACT.contains(&r.name) {
            "BUG"
        } else if r.name == "matchcore" {
            "expected"
        } else {
            "differs"
        };
        match r.diverged_at {
            Some(i) => format!("≠ {what} ({bug}, from op {i})"),
            None => format!("≠ {what} ({bug})"),
        }
    };
    if !r.passes_agree {
        s.push_str(", passes differ!");
    }
    s
}

/// Implementations that should have agreed with perpx and did not (the run is wrong).
pub fn failures(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| EXACT.contains(&r.name) && (!agrees(r) || !r.passes_agree))
        .map(|r| format!("{} {} @ {}: {}", r.name, r.profile, r.size, check(r)))
        .collect()
}

/// The O(n) reference's agreement with perpx, as one line.
pub fn oracle(rows: &[Row]) -> String {
    let refs: Vec<&Row> = rows.iter().filter(|r| r.name == "reference").collect();
    if refs.is_empty() {
        return "O(n) reference oracle: not run".into();
    }
    let ok = refs.iter().all(|r| agrees(r) && r.passes_agree);
    let runs: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "{} @ {}: {} ops",
                r.profile,
                thousands(r.size),
                thousands(r.ops)
            )
        })
        .collect();
    format!(
        "O(n) reference oracle (tests/common/reference_book.rs, correctness only): {} on trades, \
         traded qty and resting orders after every op ({})",
        if ok {
            "agrees with perpx"
        } else {
            "DISAGREES with perpx (BUG)"
        },
        runs.join("; ")
    )
}
