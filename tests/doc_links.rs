//! The project's documentation is self-contained and its links hold:
//! - no file of the repository points outside it (at the sibling source directory
//!   [`OUTSIDE`] names, which users of the repository never have);
//! - every `docs/<name>.md` named anywhere (code comments, README, `markets.toml`, tests, docs)
//!   exists, and a section it cites (`docs/RULES.md §6`, `§7.1` = item 1 of §7) exists;
//! - every relative Markdown link (`[text](path#anchor)`) in a Markdown file resolves to a file,
//!   and its anchor, if any, to a heading of that file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

/// The directory outside the repository that references must not point into (built from
/// parts so this file does not match itself).
const OUTSIDE: &str = concat!("..", "/", "shared");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every text file of the project (not build output, not VCS data, not vendored bundles).
fn text_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name != ".ci" || name == "target" || name == "vendor" {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else if std::fs::read_to_string(&p).is_ok() {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    assert!(
        out.len() > 50,
        "the walk found too few files: {}",
        out.len()
    );
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

/// GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Does `markdown` have section `major` (a `## N.` heading) and, if given, item `minor` of it
/// (a `### N.M` heading or a numbered list item `M.` inside the section)?
fn has_section(markdown: &str, major: &str, minor: Option<&str>) -> bool {
    let head = format!("## {major}.");
    let Some(start) = markdown.lines().position(|l| l.starts_with(&head)) else {
        return false;
    };
    let Some(minor) = minor else {
        return true;
    };
    markdown
        .lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .any(|l| {
            l.starts_with(&format!("### {major}.{minor}")) || l.starts_with(&format!("{minor}. "))
        })
}

#[test]
fn nothing_points_outside_the_repository() {
    let mut bad = Vec::new();
    for f in text_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // This file names the pattern it forbids.
            if line.contains(OUTSIDE) {
                bad.push(format!("{}:{}: {}", rel(&f), n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "references outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_named_doc_and_section_exists() {
    let named = Regex::new(r"docs/([A-Za-z0-9_-]+\.md)(`?\s*§([0-9]+)(\.([0-9]+))?)?").unwrap();
    let linked = Regex::new(r"\]\(([A-Za-z0-9_-]+\.md)\)\s*§([0-9]+)(\.([0-9]+))?").unwrap();
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in text_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let in_docs = rel(&f).starts_with("docs/");
        for (n, line) in text.lines().enumerate() {
            let mut check = |file: &str, major: Option<&str>, minor: Option<&str>| {
                seen += 1;
                let path = root().join("docs").join(file);
                match std::fs::read_to_string(&path) {
                    Err(_) => {
                        bad.push(format!("{}:{}: docs/{file} does not exist", rel(&f), n + 1))
                    }
                    Ok(doc) => {
                        if let Some(major) = major {
                            if !has_section(&doc, major, minor) {
                                bad.push(format!(
                                    "{}:{}: docs/{file} has no §{major}{}",
                                    rel(&f),
                                    n + 1,
                                    minor.map(|m| format!(".{m}")).unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
            };
            for c in named.captures_iter(line) {
                check(
                    &c[1],
                    c.get(3).map(|m| m.as_str()),
                    c.get(5).map(|m| m.as_str()),
                );
            }
            if in_docs {
                for c in linked.captures_iter(line) {
                    check(
                        &c[1],
                        Some(c.get(2).unwrap().as_str()),
                        c.get(4).map(|m| m.as_str()),
                    );
                }
            }
        }
    }
    assert!(
        seen > 50,
        "too few doc references found ({seen}): is the pattern right?"
    );
    assert!(bad.is_empty(), "broken doc references:\n{}", bad.join("\n"));
}

#[test]
fn markdown_links_resolve() {
    let link = Regex::new(r"\[[^\]]*\]\(([^)\s]+)\)").unwrap();
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in text_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut in_code = false;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            if in_code {
                continue;
            }
            for c in link.captures_iter(line) {
                let target = &c[1];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                seen += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target, None),
                };
                let file = if path.is_empty() {
                    f.clone()
                } else {
                    f.parent().unwrap().join(path)
                };
                if !file.exists() {
                    bad.push(format!("{}:{}: {target}: no such file", rel(&f), n + 1));
                    continue;
                }
                if let Some(anchor) = anchor {
                    let doc = std::fs::read_to_string(&file).unwrap_or_default();
                    if !anchors(&doc).contains(anchor) {
                        bad.push(format!("{}:{}: {target}: no such heading", rel(&f), n + 1));
                    }
                }
            }
        }
    }
    assert!(seen > 5, "too few Markdown links found ({seen})");
    assert!(bad.is_empty(), "broken Markdown links:\n{}", bad.join("\n"));
}

#[test]
fn the_checks_catch_what_they_claim() {
    let doc = "# T\n## 7. Invariants\n1. one\n2. two\n## 8. Next\n### Sub heading!\n";
    assert!(has_section(doc, "7", None));
    assert!(has_section(doc, "7", Some("2")));
    assert!(!has_section(doc, "7", Some("3")));
    assert!(!has_section(doc, "9", None));
    assert!(anchors(doc).contains("sub-heading"));
    assert!(anchors(doc).contains("7-invariants"));
}
