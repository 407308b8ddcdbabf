//! The README cannot rot: its worked example is `examples/quickstart.sh` verbatim (CI runs the
//! script against a fresh server), and every command it tells a newcomer to run exists.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_worked_example_is_the_tested_script() {
    let readme = read("README.md");
    let script = read("examples/quickstart.sh");
    let start = readme
        .find("```bash\n#!/usr/bin/env bash")
        .expect("the quick start block")
        + "```bash\n".len();
    let end = start + readme[start..].find("\n```").expect("end of the block");
    assert_eq!(
        &readme[start..end],
        script.trim_end_matches('\n'),
        "README block and examples/quickstart.sh differ"
    );
}

#[test]
fn referenced_files_and_binaries_exist() {
    let readme = read("README.md");
    for path in [
        "examples/quickstart.sh",
        "examples/ws_client.py",
        "markets.toml",
        "grafana",
    ] {
        assert!(readme.contains(path), "README mentions {path}");
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists(),
            "{path} exists"
        );
    }
    let cargo = read("Cargo.toml");
    assert!(
        cargo.contains("name = \"loadgen\""),
        "the loadgen binary the README runs"
    );
    for cmd in ["cargo run --release", "cargo test", "--bin loadgen"] {
        assert!(readme.contains(cmd), "README shows `{cmd}`");
    }
}
