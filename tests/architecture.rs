//! The pure core stays pure (docs/ARCHITECTURE.md §1): the modules `domain`, `book`, `risk` and `engine`
//! import no actix, tokio, redb or metrics, read no clock, do no I/O and use no floats.
//! Scans the source text, so a violation fails here before it can creep in.

use std::path::{Path, PathBuf};

const CORE: &[&str] = &["domain", "book", "risk", "engine"];

/// (needle, why it is forbidden in the core)
const FORBIDDEN: &[(&str, &str)] = &[
    ("actix", "actors belong to the shell"),
    ("tokio", "async runtime belongs to the shell"),
    ("redb", "persistence belongs to the shell"),
    ("metrics::", "metrics belong to the shell"),
    ("metrics_exporter", "metrics belong to the shell"),
    ("tracing", "logging belongs to the shell"),
    ("SystemTime", "the core takes `now` as an argument"),
    ("Instant", "the core takes `now` as an argument"),
    ("std::fs", "the core does no I/O"),
    ("std::net", "the core does no I/O"),
    ("std::thread", "the core is single-threaded and synchronous"),
    ("f64", "no floats in the core"),
    ("f32", "no floats in the core"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `needle` occurs in `line` as a whole identifier-ish token (so `Instant` does not
/// match `Instantiate`, and `f64` does not match `buf64`).
fn mentions(line: &str, needle: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(needle).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + needle.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(|c| ident(c) && !needle.ends_with("::"))
    })
}

#[test]
fn core_modules_import_no_shell_crates_and_read_no_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut violations = Vec::new();
    for module in CORE {
        let dir = src.join(module);
        if !dir.exists() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("readable source file");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (needle, why) in FORBIDDEN {
                    if mentions(code, needle) {
                        violations.push(format!("{}:{}: `{needle}`: {why}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "expected to scan the core's files, scanned {checked}"
    );
    assert!(
        violations.is_empty(),
        "pure-core violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_catches_what_it_must() {
    assert!(mentions("use tokio::sync;", "tokio"));
    assert!(mentions("let t = Instant::now();", "Instant"));
    assert!(mentions("x: f64,", "f64"));
    assert!(mentions("use metrics::counter;", "metrics::"));
    assert!(!mentions("fn instantiate()", "Instant"));
    assert!(!mentions("let buf64 = 1;", "f64"));
    assert!(!mentions("fn tokio_free()", "tokio"));
}

/// The shell's modules, none of which the core ([`CORE`]) may name.
const SHELL: &[&str] = &[
    "actors",
    "api",
    "replication",
    "persistence",
    "telemetry",
    "config",
    "app",
    "clock",
];

/// The shell's layers point one way (docs/ARCHITECTURE.md §9): (module, crate modules it must
/// not import, why). The core's rows are built from [`CORE`] and [`SHELL`] in [`layers`].
const SHELL_LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "telemetry",
        &[
            "actors",
            "api",
            "replication",
            "persistence",
            "config",
            "app",
        ],
        "telemetry is a leaf: handles take plain values",
    ),
    (
        "persistence",
        &["actors", "api", "replication", "app"],
        "persistence stores the core's state, not the actors'",
    ),
    (
        "config",
        &["actors", "api", "replication", "persistence", "app"],
        "configuration is read before anything runs",
    ),
    (
        "actors",
        &["api", "replication", "app"],
        "the running exchange does not know its clients",
    ),
    (
        "api",
        &["replication", "app"],
        "the API does not know the layers that serve it (replication registers its own routes)",
    ),
    (
        "replication",
        &["app"],
        "replication is wired by the app, not the other way round",
    ),
];

/// Every layering rule: each core module against the whole shell, then the shell's own rows.
fn layers() -> Vec<(&'static str, &'static [&'static str], &'static str)> {
    CORE.iter()
        .map(|m| (*m, SHELL, "the pure core knows nothing of the shell"))
        .chain(SHELL_LAYERS.iter().copied())
        .collect()
}

/// The crate modules a source text imports or names through `crate::` (single paths and
/// `crate::{a, b::c}` groups), with the line of each.
fn crate_modules(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let code: Vec<String> = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").to_string())
        .collect();
    for (n, line) in code.iter().enumerate() {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(inner) = rest.strip_prefix('{') {
                // A group, possibly over several lines: the first segment of each path in it.
                let mut group = String::from(inner);
                let mut k = n + 1;
                while !group.contains('}') && k < code.len() {
                    group.push_str(&code[k]);
                    k += 1;
                }
                let mut depth = 0;
                let mut start = true;
                let mut ident = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if c.is_ascii_alphanumeric() || c == '_' => {
                            if start {
                                ident.push(c)
                            }
                        }
                        _ => {
                            if !ident.is_empty() {
                                out.push((n + 1, std::mem::take(&mut ident)));
                            }
                            if !c.is_whitespace() {
                                start = false;
                            }
                        }
                    }
                }
                if !ident.is_empty() {
                    out.push((n + 1, ident));
                }
            } else {
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push((n + 1, ident));
            }
        }
    }
    out
}

#[test]
fn the_shell_layers_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (module, forbidden, why) in layers() {
        let dir = src.join(module);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let single = src.join(format!("{module}.rs"));
        if single.exists() {
            files.push(single);
        }
        assert!(!files.is_empty(), "module {module} not found");
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("readable source file");
            for (line, m) in crate_modules(&text) {
                if forbidden.contains(&m.as_str()) {
                    violations.push(format!(
                        "{}:{line}: {module} uses crate::{m}: {why}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(checked >= 40, "scanned only {checked} files");
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_import_scanner_reads_groups_and_paths() {
    let text = "use crate::actors::Exchange;\nuse crate::{\n    api::State,\n    domain::{Side, Qty},\n};\nlet x = crate::telemetry::handle(); // crate::app\n";
    let found: Vec<String> = crate_modules(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["actors", "api", "domain", "telemetry"]);
}
