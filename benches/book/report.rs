//! The summary: the headline table (perpx and its throughput over each speed baseline: the
//! naive `BTreeMap` book, matchcore, lobster), the full results table, perpx ÷ peer ratios,
//! one line for the O(n) reference (a correctness oracle, not a speed baseline, so it is in
//! no table), PASS/MISS against the targets; as aligned text for the terminal and as
//! Markdown for the README.

use crate::checks::{check, oracle};
use crate::engines::Tally;

#[derive(Clone, Copy, Debug, Default)]
pub struct Lat {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// One implementation on one profile × size.
pub struct Row {
    pub profile: &'static str,
    pub size: usize,
    pub name: &'static str,
    /// Timed ops (a prefix of the stream for the reference).
    pub ops: usize,
    pub full: bool,
    /// Repetitions: throughput is the best of them, percentiles are medians over them.
    pub reps: usize,
    pub throughput: f64,
    /// The worst repetition's throughput (noise indicator).
    pub throughput_min: f64,
    pub lat: Lat,
    pub bytes_per_order: f64,
    /// The implementation's own estimate (perpx: `Book::heap_bytes()`), per resting order.
    pub reported_bytes_per_order: Option<f64>,
    /// Trades, traded qty and rejects of the latency pass.
    pub tally: Tally,
    /// Whether the throughput pass produced the same tally.
    pub passes_agree: bool,
    /// Trades the generator's shadow perpx book made on the same ops.
    pub shadow_trades: u64,
    /// Quantity the shadow traded on the same ops.
    pub shadow_qty: u64,
    /// The first op after which the running trade count or traded quantity differed from the
    /// shadow's (first latency pass).
    pub diverged_at: Option<usize>,
    /// Resting orders in the shadow book after the same ops.
    pub shadow_resting: usize,
    pub resting: Option<usize>,
    pub resting_qty: u64,
}

type Table = Vec<Vec<String>>;

/// The speed baselines, in column order. The O(n) reference is not one.
const PEERS: [&str; 3] = ["naive", "matchcore", "lobster"];

fn results(rows: &[Row]) -> Table {
    let mut t = vec![[
        "profile",
        "resting",
        "impl",
        "ops timed",
        "reps",
        "Mops/s",
        "worst rep",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
        "B/order",
        "self-reported",
        "trades",
        "trades/resting check",
        "rejected",
        "resting end",
        "qty end",
    ]
    .map(String::from)
    .to_vec()];
    for r in rows.iter().filter(|r| r.name != "reference") {
        t.push(vec![
            r.profile.to_string(),
            r.size.to_string(),
            r.name.to_string(),
            format!("{}{}", r.ops, if r.full { "" } else { " (prefix)" }),
            r.reps.to_string(),
            format!("{:.3}", r.throughput / 1e6),
            format!("{:.3}", r.throughput_min / 1e6),
            r.lat.p50.to_string(),
            r.lat.p99.to_string(),
            r.lat.p999.to_string(),
            r.lat.max.to_string(),
            format!("{:.1}", r.bytes_per_order),
            r.reported_bytes_per_order
                .map_or("-".into(), |b| format!("{b:.1}")),
            r.tally.trades.to_string(),
            check(r),
            r.tally.rejected.to_string(),
            r.resting.map_or("n/a".into(), |n| n.to_string()),
            r.resting_qty.to_string(),
        ]);
    }
    t
}

fn find<'a>(rows: &'a [Row], profile: &str, size: usize, name: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.profile == profile && r.size == size && r.name == name)
}

fn groups(rows: &[Row]) -> Vec<(&'static str, usize)> {
    let mut g: Vec<(&'static str, usize)> = Vec::new();
    for r in rows {
        if !g.contains(&(r.profile, r.size)) {
            g.push((r.profile, r.size));
        }
    }
    g
}

fn ratios(rows: &[Row]) -> Table {
    let mut t = vec![[
        "profile",
        "resting",
        "perpx ÷",
        "throughput",
        "p50",
        "p99",
        "p99.9",
        "B/order",
    ]
    .map(String::from)
    .to_vec()];
    let x = |a: f64, b: f64| format!("{:.2}×", a / b);
    for (profile, size) in groups(rows) {
        let Some(p) = find(rows, profile, size, "perpx") else {
            continue;
        };
        for peer in PEERS {
            let Some(q) = find(rows, profile, size, peer) else {
                continue;
            };
            t.push(vec![
                profile.to_string(),
                size.to_string(),
                peer.to_string(),
                x(p.throughput, q.throughput),
                x(p.lat.p50 as f64, q.lat.p50 as f64),
                x(p.lat.p99 as f64, q.lat.p99 as f64),
                x(p.lat.p999 as f64, q.lat.p999 as f64),
                x(p.bytes_per_order, q.bytes_per_order),
            ]);
        }
    }
    t
}

pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One row per profile × size: perpx's figures, the naive book's memory, and perpx's
/// throughput over each speed baseline's (the README's table).
fn headline(rows: &[Row]) -> Table {
    let mut t = vec![[
        "profile",
        "resting",
        "perpx Mops/s",
        "p50 / p99 / p99.9 ns",
        "bytes/order",
        "naive bytes/order",
        "÷ naive",
        "÷ matchcore",
        "÷ lobster",
    ]
    .map(String::from)
    .to_vec()];
    for (profile, size) in groups(rows) {
        let Some(p) = find(rows, profile, size, "perpx") else {
            continue;
        };
        let mut row = vec![
            profile.to_string(),
            thousands(size),
            format!("{:.1}", p.throughput / 1e6),
            format!("{} / {} / {}", p.lat.p50, p.lat.p99, p.lat.p999),
            format!("{:.0}", p.bytes_per_order),
            find(rows, profile, size, "naive")
                .map_or("-".into(), |q| format!("{:.0}", q.bytes_per_order)),
        ];
        for peer in PEERS {
            row.push(find(rows, profile, size, peer).map_or("-".into(), |q| {
                format!("{:.2}×", p.throughput / q.throughput)
            }));
        }
        t.push(row);
    }
    t
}

fn at_least(what: String, got: f64, want: f64, unit: &str) -> String {
    let gap = 100.0 * (got / want - 1.0);
    let verdict = if got >= want { "PASS" } else { "MISS" };
    format!("{verdict} {what}: {got:.2}{unit} (target ≥ {want}{unit}, {gap:+.0} %)")
}

fn at_most(what: String, got: f64, want: f64, unit: &str) -> String {
    let gap = 100.0 * (got / want - 1.0);
    let verdict = if got <= want { "PASS" } else { "MISS" };
    let side = if gap > 0.0 { "over" } else { "under" };
    format!(
        "{verdict} {what}: {got:.0}{unit} (target ≤ {want}{unit}, {:.0} % {side})",
        gap.abs()
    )
}

/// The targets, PASS/MISS with the gap.
pub fn targets(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for (profile, size) in groups(rows) {
        let Some(p) = find(rows, profile, size, "perpx") else {
            continue;
        };
        let (vs_naive, vs_mc) = if size <= 1_000 {
            (1.5, 1.2)
        } else {
            (1.0, 1.0)
        };
        for (peer, want) in [("naive", vs_naive), ("matchcore", vs_mc)] {
            let what = format!("{profile} @ {size}: throughput perpx ÷ {peer}");
            match find(rows, profile, size, peer) {
                Some(q) => out.push(at_least(what, p.throughput / q.throughput, want, "×")),
                None => out.push(format!("SKIP {what} (not run)")),
            }
        }
        for (name, got, want) in [
            ("p50", p.lat.p50, 150.0),
            ("p99", p.lat.p99, 500.0),
            ("p99.9", p.lat.p999, 1500.0),
        ] {
            let what = format!("{profile} @ {size}: perpx {name}");
            out.push(at_most(what, got as f64, want, " ns"));
        }
    }
    let mut seen = Vec::new();
    for r in rows.iter().filter(|r| r.name == "perpx") {
        if !seen.contains(&r.size) {
            seen.push(r.size);
            let what = format!("@ {}: perpx heap per resting order", r.size);
            out.push(at_most(what, r.bytes_per_order, 100.0, " B"));
        }
    }
    out
}

/// `left`: how many leading columns are labels (left-aligned); the rest are figures.
fn text_table(t: &Table, left: usize) -> String {
    let cols = t[0].len();
    let w: Vec<usize> = (0..cols)
        .map(|c| t.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (i, r) in t.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = w[c] - v.chars().count();
                if c < left {
                    format!("{v}{}", " ".repeat(pad))
                } else {
                    format!("{}{v}", " ".repeat(pad))
                }
            })
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
        if i == 0 {
            s.push_str(&"-".repeat(w.iter().sum::<usize>() + 2 * (cols - 1)));
            s.push('\n');
        }
    }
    s
}

fn md_table(t: &Table, left: usize) -> String {
    let mut s = String::new();
    for (i, r) in t.iter().enumerate() {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
        if i == 0 {
            let sep: Vec<&str> = (0..r.len())
                .map(|c| if c < left { "---" } else { "---:" })
                .collect();
            s.push_str(&format!("|{}|\n", sep.join("|")));
        }
    }
    s
}

type Notes<'a> = [(&'a str, &'a str)];
type Gens<'a> = [(&'a str, usize, String)];

fn header(timer: &Lat, quick: bool) -> String {
    format!(
        "{} run. Mops/s is the best of the repetitions (worst shown beside it; the machine is \
         shared), latency percentiles are medians over them. Latencies include the per-op \
         timer: an empty op timed the same way takes p50 {} ns, p99 {} ns, p99.9 {} ns (not \
         subtracted). Ratios are perpx ÷ peer: \
         throughput > 1 and latency/memory < 1 favour perpx.",
        if quick { "Quick (smoke)" } else { "Full" },
        timer.p50,
        timer.p99,
        timer.p999
    )
}

pub fn render(rows: &[Row], timer: &Lat, notes: &Notes, gens: &Gens, quick: bool) -> String {
    let mut s = format!("== summary ==\n{}\n\n", header(timer, quick));
    s.push_str(&text_table(&headline(rows), 1));
    s.push_str(&format!("\n{}\n\n", oracle(rows)));
    s.push_str(&text_table(&results(rows), 3));
    s.push_str("\n== perpx ÷ peer ==\n");
    s.push_str(&text_table(&ratios(rows), 3));
    s.push_str("\n== targets ==\n");
    for line in targets(rows) {
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str("\n== streams (realized) ==\n");
    for (p, size, mix) in gens {
        s.push_str(&format!("{p} @ {size}: {mix}\n"));
    }
    s.push_str("\n== adapters ==\n");
    for (name, note) in notes {
        s.push_str(&format!("{name}: {note}\n"));
    }
    s
}

pub fn markdown(rows: &[Row], timer: &Lat, notes: &Notes, gens: &Gens, quick: bool) -> String {
    let mut s = format!(
        "### Order-book benchmark (`cargo bench --bench book`)\n\n{}\n\n",
        header(timer, quick)
    );
    s.push_str(&md_table(&headline(rows), 1));
    s.push_str(&format!("\n{}\n\n#### All results\n\n", oracle(rows)));
    s.push_str(&md_table(&results(rows), 3));
    s.push_str("\n#### perpx ÷ peer\n\n");
    s.push_str(&md_table(&ratios(rows), 3));
    s.push_str("\n#### Targets\n\n");
    for line in targets(rows) {
        s.push_str(&format!("- {line}\n"));
    }
    s.push_str("\n#### Streams (realized mix)\n\n");
    for (p, size, mix) in gens {
        s.push_str(&format!("- {p} @ {size}: {mix}\n"));
    }
    s.push_str("\n#### Adapters\n\n");
    for (name, note) in notes {
        s.push_str(&format!("- **{name}**: {note}\n"));
    }
    s
}
