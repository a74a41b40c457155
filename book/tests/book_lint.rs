//! The book lint: what mdBook only logs, or renders as nothing, fails here.
//!
//! Run with
//!
//! ```not_rust
//! cargo test -p primary-all-book --test book_lint
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every chapter SUMMARY.md links to, in order.
fn chapters() -> Vec<PathBuf> {
    let summary = std::fs::read_to_string(src().join("SUMMARY.md")).unwrap();
    summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|file| src().join(file))
        .collect()
}

/// What follows `{{#include ` in each include directive of one chapter, up
/// to its `}}`: the path with its anchor or line range, if any.
fn include_targets(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{#include ")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .map(str::trim)
}

/// `{{#include path}}` and `{{#include path:anchor}}` directives of one chapter.
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    include_targets(text)
        .map(|target| match target.split_once(':') {
            // `path:6:` or `path:2:10` is a line range, not an anchor.
            Some((path, range)) if range.starts_with(|c: char| c.is_ascii_digit()) => {
                (path.to_string(), None)
            }
            Some((path, anchor)) => (path.to_string(), Some(anchor.to_string())),
            None => (target.to_string(), None),
        })
        .collect()
}

/// The opening lines of fenced code blocks, with their line numbers.
fn fence_openings(text: &str) -> Vec<(usize, String)> {
    let mut open = false;
    let mut openings = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            if !open {
                openings.push((number + 1, info.trim().to_string()));
            }
            open = !open;
        }
    }
    openings
}

#[test]
fn every_chapter_in_the_summary_exists() {
    let missing: Vec<_> = chapters().into_iter().filter(|c| !c.is_file()).collect();
    assert!(
        missing.is_empty(),
        "SUMMARY.md links to missing chapters: {missing:?}"
    );
}

#[test]
fn every_include_resolves_and_every_anchor_exists() {
    let mut problems = Vec::new();
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (path, anchor) in includes(&text) {
            let target = chapter.parent().unwrap().join(&path);
            let Ok(included) = std::fs::read_to_string(&target) else {
                problems.push(format!("{}: {path} does not exist", chapter.display()));
                continue;
            };
            if let Some(anchor) = anchor {
                let start = format!("ANCHOR: {anchor}\n");
                let end = format!("ANCHOR_END: {anchor}\n");
                if !included.contains(&start) || !included.contains(&end) {
                    problems.push(format!(
                        "{}: {path} has no anchor {anchor}",
                        chapter.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// An insta snapshot opens with a header (`---`, its source, its
/// expression, `---`) that says nothing to a reader, and insta rewrites it
/// when a snapshot is accepted, which can make it a line shorter or longer.
/// So every snapshot the book includes must be included from the first line
/// after that header, which this test works out afresh.
#[test]
fn every_included_snapshot_starts_right_after_its_header() {
    let mut problems = Vec::new();
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for target in include_targets(&text) {
            let Some((path, range)) = target.split_once(".snap") else {
                continue;
            };
            let path = format!("{path}.snap");
            let Ok(snapshot) = std::fs::read_to_string(chapter.parent().unwrap().join(&path))
            else {
                continue; // every_include_resolves_and_every_anchor_exists says so
            };
            let header_end = snapshot
                .lines()
                .enumerate()
                .filter(|(_, line)| *line == "---")
                .nth(1)
                .map(|(number, _)| number + 1);
            let first = header_end.map(|end| format!(":{}:", end + 1));
            if first.as_deref() != Some(range) {
                problems.push(format!(
                    "{}: {path} is included as {range:?}; its content starts at {first:?}",
                    chapter.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Figures are numbered by chapter, in the order they appear, as a thesis
/// numbers them: moving a figure or adding one before another must
/// renumber the captions, or this fails.
#[test]
fn figure_captions_are_numbered_in_order_within_each_chapter() {
    let mut problems = Vec::new();
    let mut expected: Option<(u32, u32)> = None;
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let file = chapter.file_name().unwrap().to_string_lossy().to_string();
        let Some(number) = file
            .strip_prefix("ch")
            .and_then(|rest| rest.get(..2))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if expected.is_none_or(|(current, _)| current != number) {
            expected = Some((number, 1));
        }
        let text = std::fs::read_to_string(&chapter).unwrap();
        for caption in text.split("<figcaption>Figure ").skip(1) {
            let label = caption.split(':').next().unwrap_or_default();
            let (chapter_number, figure) = expected.unwrap();
            let want = format!("{chapter_number}.{figure}");
            if label != want {
                problems.push(format!("{file}: Figure {label} should be Figure {want}"));
            }
            expected = Some((chapter_number, figure + 1));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fence_is_tagged_and_every_ignore_fence_includes_compiled_code() {
    let mut problems = Vec::new();
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (number, info) in fence_openings(&text) {
            if info.is_empty() {
                problems.push(format!(
                    "{}:{number}: untagged fence (it would be compiled as Rust)",
                    chapter.display()
                ));
            }
            if info.contains("ignore") {
                let body = lines.get(number).copied().unwrap_or_default();
                if !body.trim_start().starts_with("{{#include")
                    && !body.trim_start().starts_with("{{#rustdoc_include")
                {
                    problems.push(format!(
                        "{}:{number}: a rust,ignore fence must hold an {{{{#include}}}} of compiled code",
                        chapter.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_internal_link_points_at_a_chapter() {
    let known: BTreeSet<String> = chapters()
        .iter()
        .filter_map(|c| c.file_name().map(|f| f.to_string_lossy().into_owned()))
        .collect();
    let mut problems = Vec::new();
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for link in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            let file = link.split('#').next().unwrap_or_default();
            if file.ends_with(".md") && !known.contains(file) {
                problems.push(format!("{}: dead link to {link}", chapter.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_citation_is_in_the_bibliography() {
    let bib = std::fs::read_to_string(src().join("refs.bib")).unwrap_or_default();
    let keys: BTreeSet<String> = bib
        .split('@')
        .skip(1)
        .filter_map(|entry| entry.split_once('{').map(|(_, rest)| rest))
        .filter_map(|rest| rest.split(',').next())
        .map(|key| key.trim().to_string())
        .collect();
    let mut problems = Vec::new();
    for chapter in chapters().into_iter().filter(|c| c.is_file()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for key in text
            .split("{{#cite ")
            .skip(1)
            .filter_map(|rest| rest.split("}}").next())
        {
            if !keys.contains(key.trim()) {
                problems.push(format!("{}: unknown citation {key}", chapter.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Numbers that look measured: a decimal (`14.8`), or an amount with a
/// unit a benchmark writes (`26 ms`, `3.2×`, `48 MiB`, `1.9 KiB`, `94 req/s`).
fn measured_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // A digit after a letter or a dot continues a word or a version
        // (`v1.37.2`, `K8s`), not a number of its own.
        let starts_number = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.'));
        if !starts_number {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == ',' || chars[i] == '.') {
            i += 1;
        }
        let number: String = chars[start..i].iter().collect();
        let number = number.trim_end_matches(['.', ',']).to_string();
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        let rest = rest.trim_start();
        let before: String = chars[start.saturating_sub(7)..start].iter().collect();
        let label = before.ends_with("Figure ") || before.ends_with("Table ");
        let decimal = number.contains('.') && !label;
        let unit = ["ms", "×", "MiB", "KiB", "req/s"]
            .iter()
            .any(|u| rest.starts_with(u));
        if decimal || unit {
            found.push(format!(
                "{number} {}",
                rest.split_whitespace().next().unwrap_or("")
            ));
        }
    }
    found
}

/// What the benchmark, the load test and the fuzz run measure is written by
/// them into `figures/`, which the book includes; a number typed into the
/// prose beside it would go stale with the next run. The Abstract, the
/// Evaluation (every section: correctness, attacks, load, cost, the case
/// study) and the Conclusion type none.
/// Sizes the Evaluation states that are inputs or settings, not results:
/// what the bad-input table sends, hyper's and the server's header limits,
/// and the load test's memory bound. Each is a whole phrase, so a measured
/// number beside it is still caught.
const SETTINGS: [&str; 5] = [
    "a 32 KiB query",
    "a 64 KiB header",
    "only 16 KiB of HTTP/2 headers",
    "now accepts 1 MiB",
    "plus 64 MiB",
];

#[test]
fn the_prose_types_no_number_a_command_measures() {
    let mut problems = Vec::new();
    for file in [
        "ch00-00-abstract.md",
        "ch05-00-evaluation.md",
        "ch08-00-conclusion.md",
    ] {
        let text = std::fs::read_to_string(src().join(file)).unwrap();
        // Figure captions and alt text describe axes, not results.
        let prose: String = text
            .lines()
            .filter(|l| {
                !l.trim_start().starts_with("{{#include") && !l.trim_start().starts_with('<')
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut prose = prose.split_whitespace().collect::<Vec<_>>().join(" ");
        for setting in SETTINGS {
            prose = prose.replace(setting, "");
        }
        for number in measured_numbers(&prose) {
            problems.push(format!("{file}: typed a measured number: {number}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_lint_itself_sees_what_it_checks() {
    assert_eq!(
        measured_numbers(
            "K = 200, M = 100,000, five series (Figure 5.1); 14.8 ms, 3× and 48 MiB at v1.37.2"
        ),
        vec![
            "14.8 ms,".to_string(),
            "3 ×".to_string(),
            "48 MiB".to_string()
        ]
    );
    assert_eq!(
        includes("a {{#include ../../x.rs:all}} b {{#include y.snap}}"),
        vec![
            ("../../x.rs".to_string(), Some("all".to_string())),
            ("y.snap".to_string(), None)
        ]
    );
    assert_eq!(
        fence_openings("```rust\nx\n```\n\n```\ny\n```"),
        vec![(1, "rust".to_string()), (5, String::new())]
    );
}

/// The Evaluation says how many hostile requests the bad-input table sends,
/// how many of them also go straight to the server, and how many
/// kube-apiserver refuses itself; the table is an insta snapshot the
/// cluster suite checks, so the prose is checked against it here.
#[test]
fn the_bad_input_counts_in_the_prose_are_the_snapshots() {
    let snapshot = std::fs::read_to_string(src().join(
        "../../tests/snapshots/bad_input__hostile_paths_queries_and_headers_get_a_4xx_status_that_names_the_culprit.snap",
    ))
    .unwrap();
    // After the insta header: one unindented line per request, then one
    // indented line per route it was sent by.
    let table: Vec<&str> = snapshot.split("\n---\n").nth(1).unwrap().lines().collect();
    let requests = table.iter().filter(|l| !l.starts_with(' ')).count();
    let straight = table
        .iter()
        .filter(|l| l.starts_with("  straight:"))
        .count();
    let refused_by_apiserver = table
        .iter()
        .filter(|l| l.starts_with("  through kube-apiserver:"))
        .filter(|l| !l.contains("(extension server)"))
        .count();
    let words = ["no", "one", "two", "three", "four", "five", "six"];
    let prose = std::fs::read_to_string(src().join("ch05-00-evaluation.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for phrase in [
        format!("A table of {requests} hostile requests"),
        format!("and {straight} of them also straight to the server"),
        format!(
            "{} malformed escapes are refused by kube-apiserver",
            words[refused_by_apiserver]
        ),
    ] {
        assert!(
            prose.contains(&phrase),
            "the Evaluation should say {phrase:?}, as the snapshot has it"
        );
    }
}
