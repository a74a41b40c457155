//! The dependency rule of the crate root's docs, held by a test.

use std::collections::BTreeSet;
use std::path::Path;

/// The layers each layer may use (besides itself and `error`).
const MAY_USE: &[(&str, &[&str])] = &[
    (
        "server",
        &["http", "answer", "find", "auth", "cluster", "graph"],
    ),
    ("http", &["answer", "find", "auth", "cluster", "graph"]),
    ("answer", &["find", "auth", "cluster", "graph"]),
    ("find", &["auth", "cluster", "graph"]),
    ("auth", &["cluster", "graph"]),
    ("cluster", &["graph"]),
    ("graph", &[]),
];

/// Every `crate::<layer>` a source file names.
fn layers_named(source: &str) -> BTreeSet<String> {
    source
        .match_indices("crate::")
        .map(|(at, _)| {
            source[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

#[test]
fn the_arrows_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut against = Vec::new();
    let mut files = 0;
    for (layer, allowed) in MAY_USE {
        let folder = src.join(layer);
        let entries = std::fs::read_dir(&folder).expect("every layer is a folder");
        for entry in entries {
            let path = entry.expect("a readable folder").path();
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            files += 1;
            for named in layers_named(&source) {
                let is_layer = MAY_USE.iter().any(|(l, _)| *l == named);
                if is_layer && named != *layer && !allowed.contains(&named.as_str()) {
                    against.push(format!("{} uses crate::{named}", path.display()));
                }
            }
        }
    }
    assert!(files >= 20, "only {files} source files found below {src:?}");
    assert!(
        against.is_empty(),
        "imports against the arrows:\n{}",
        against.join("\n")
    );
}

#[test]
fn a_use_against_the_arrows_is_seen() {
    let named = layers_named("use crate::server::AppState;\nuse crate::graph::tree;");
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["graph", "server"]);
}
