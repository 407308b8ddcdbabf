//! The pure core stays pure (DESIGN.md §1): the modules `domain`, `book`, `risk` and `engine`
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
