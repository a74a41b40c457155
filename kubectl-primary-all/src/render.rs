//! Answers of the server as text for people: trees and tables, with or
//! without colour.
//!
//! Every function here is pure (wire values in, a `String` out; even the
//! clock is a parameter), so that what people see is pinned by snapshot
//! tests without a cluster or a terminal.

use std::collections::HashMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use primary_all::wire::{
    Health, HealthStatus, LeftOut, ObjectRef, OwnerChain, PrimaryWithSecondaries, TopLevelList,
    TreeNode,
};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Colour health words with ANSI escapes.
    pub color: bool,
    /// Add the columns of `-o wide`.
    pub wide: bool,
    /// The time ages are counted up to.
    pub now: Timestamp,
}

/// The link every ownerReference-found object has; only other links are
/// shown, because they are the surprising ones.
const OWNER_REFERENCE: &str = "ownerReference";

/// `get`: the primary and its secondaries, nested, then the rolled-up health
/// and every kind that was left out.
pub fn primary_tree(answer: &PrimaryWithSecondaries, options: &Options) -> String {
    let root = answer.tree.clone().unwrap_or_else(|| flat_tree(answer));
    let ages = creation_times(answer);

    let mut header = Vec::new();
    if options.wide {
        header.push("NAMESPACE");
    }
    header.extend(["NAME", "HEALTH", "REASON"]);
    if options.wide {
        header.push("AGE");
    }
    let mut rows = vec![header.into_iter().map(Cell::plain).collect::<Vec<_>>()];
    tree_rows(&root, "", None, options, &ages, &mut rows);

    let mut out = table(&rows, options.color);
    if let Some(health) = &answer.health {
        let below = answer.sec_res.items.len();
        out.push('\n');
        out.push_str(&rolled_up(health, &root, below, options.color));
        out.push('\n');
    }
    out.push_str(&left_out_lines(&answer.left_out, options.color));
    out
}

/// `owners`: the chain from the highest owner down to the object asked
/// about, then the owners that could not be followed.
pub fn owner_chain(chain: &OwnerChain, color: bool) -> String {
    // Top-down, like the tree of `get`: the answer lists the nearest owner
    // first, and each entry's `link` says how it is linked to the entry
    // before it, that is, to the one below it here.
    let mut top_down: Vec<&ObjectRef> = chain.owners.iter().rev().collect();
    top_down.push(&chain.object);
    let mut out = String::new();
    for (depth, object) in top_down.iter().enumerate() {
        let indent = if depth == 0 {
            String::new()
        } else {
            format!("{}└─ ", "   ".repeat(depth - 1))
        };
        let _ = write!(
            out,
            "{}{}",
            paint(&indent, guide_style(), color),
            kind_name(object.kind.as_str(), object.name.as_str())
        );
        let link = depth
            .checked_sub(1)
            .and_then(|above| top_down[above].link.as_deref());
        if let Some(link) = link.filter(|l| *l != OWNER_REFERENCE) {
            let _ = write!(out, " {}", paint(&format!("({link})"), dim(), color));
        }
        if depth + 1 == top_down.len() && depth > 0 {
            let _ = write!(out, "  {}", paint("← this object", dim(), color));
        }
        out.push('\n');
    }
    if chain.owners.is_empty() {
        let _ = writeln!(
            out,
            "{} has no owner: it is a top-level object.",
            kind_name(&chain.object.kind, &chain.object.name)
        );
    }
    out.push_str(&left_out_lines(&chain.left_out, color));
    out
}

/// `toplevel`: a table like kubectl's, one row per object nothing owns.
pub fn top_level_table(list: &TopLevelList, wide: bool, color: bool) -> String {
    if list.items.is_empty() {
        let mut out = format!(
            "No top-level objects found in {} namespace.\n",
            list.namespace
        );
        out.push_str(&left_out_lines(&list.left_out, color));
        return out;
    }
    let mut header = vec!["KIND", "NAME", "HEALTH", "SECONDARIES"];
    if wide {
        header.push("REASON/PATH");
    }
    let mut rows = vec![header.into_iter().map(Cell::plain).collect::<Vec<_>>()];
    for item in &list.items {
        let mut row = vec![
            Cell::plain(&item.object.kind),
            Cell::plain(&item.object.name),
            health_cell(Some(&item.health)),
            Cell::plain(&item.secondaries.to_string()),
        ];
        if wide {
            row.push(Cell::plain(&reason_and_path(&item.health)));
        }
        rows.push(row);
    }
    let mut out = table(&rows, color);
    if !list.left_out.is_empty() {
        out.push('\n');
    }
    out.push_str(&left_out_lines(&list.left_out, color));
    out
}

/// The answer of a server that sent no tree: the secondaries flat under the
/// primary.
fn flat_tree(answer: &PrimaryWithSecondaries) -> TreeNode {
    let node = |object: &DynamicObject| TreeNode {
        api_version: object
            .types
            .as_ref()
            .map(|t| t.api_version.clone())
            .unwrap_or_default(),
        kind: object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_default(),
        namespace: object.metadata.namespace.clone(),
        name: object.metadata.name.clone().unwrap_or_default(),
        link: None,
        health: None,
        children: Vec::new(),
    };
    let mut root = node(&answer.prim_res);
    root.children = answer.sec_res.items.iter().map(node).collect();
    root
}

/// Kind, namespace and name of every object in the answer → when it was created.
fn creation_times(answer: &PrimaryWithSecondaries) -> HashMap<(String, String, String), Timestamp> {
    std::iter::once(&answer.prim_res)
        .chain(&answer.sec_res.items)
        .filter_map(|object| {
            let kind = object.types.as_ref()?.kind.clone();
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            let name = object.metadata.name.clone()?;
            let created = object.metadata.creation_timestamp.as_ref()?.0;
            Some(((kind, namespace, name), created))
        })
        .collect()
}

fn tree_rows(
    node: &TreeNode,
    prefix: &str,
    last: Option<bool>,
    options: &Options,
    ages: &HashMap<(String, String, String), Timestamp>,
    rows: &mut Vec<Vec<Cell>>,
) {
    let (guide, child_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└─ "), format!("{prefix}   ")),
        Some(false) => (format!("{prefix}├─ "), format!("{prefix}│  ")),
    };
    let mut name = Cell::default()
        .with(&guide, guide_style())
        .with(&kind_name(&node.kind, &node.name), Style::new());
    if let Some(link) = node.link.as_deref().filter(|l| *l != OWNER_REFERENCE) {
        name = name.with(&format!(" ({link})"), dim());
    }
    let namespace = node.namespace.clone().unwrap_or_default();
    let mut row = Vec::new();
    if options.wide {
        row.push(Cell::plain(if namespace.is_empty() {
            "-"
        } else {
            &namespace
        }));
    }
    row.push(name);
    row.push(health_cell(node.health.as_ref()));
    row.push(Cell::plain(
        &node.health.as_ref().map(reason).unwrap_or_default(),
    ));
    if options.wide {
        let age = ages
            .get(&(node.kind.clone(), namespace, node.name.clone()))
            .map(|created| human_duration(options.now.as_second() - created.as_second()))
            .unwrap_or_else(|| "-".to_string());
        row.push(Cell::plain(&age));
    }
    rows.push(row);
    for (i, child) in node.children.iter().enumerate() {
        let is_last = i + 1 == node.children.len();
        tree_rows(child, &child_prefix, Some(is_last), options, ages, rows);
    }
}

/// The line under the tree: the primary's rolled-up health, and for a
/// primary that is not Ready, the path down to the object it comes from,
/// its reason, and under it the culprit's message.
fn rolled_up(health: &Health, root: &TreeNode, below: usize, color: bool) -> String {
    let word = paint(health.status.as_str(), health_style(health.status), color);
    if health.status == HealthStatus::Ready {
        let primary = kind_name(&root.kind, &root.name);
        return match below {
            0 => format!("{word}: {primary}, with nothing below it"),
            1 => format!("{word}: {primary} and the object below it"),
            n => format!("{word}: {primary} and the {n} objects below it"),
        };
    }
    let path = if health.path.is_empty() {
        kind_name(&root.kind, &root.name)
    } else {
        health.path.join(" → ")
    };
    let line = match reason(health) {
        cause if cause.is_empty() => format!("{word}: {path}"),
        cause => format!("{word}: {path}: {cause}"),
    };
    match culprits_sentence(health) {
        Some(sentence) => format!("{line}\n  {sentence}"),
        None => line,
    }
}

/// The culprit's message, when the verdict line shows its reason: the reason
/// is one word (`Pending`), and the sentence is often the only place that
/// says what is wrong (`issuer.cert-manager.io "selfsigned" not found`), so
/// a person need not `kubectl get` the culprit to read it. On one line, so
/// the output keeps its shape.
fn culprits_sentence(health: &Health) -> Option<String> {
    let sentence = health
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!health.reason.is_empty() && !sentence.is_empty() && sentence != health.reason)
        .then_some(sentence)
}

fn reason_and_path(health: &Health) -> String {
    if health.status == HealthStatus::Ready {
        return String::new();
    }
    let path = health.path.join(" → ");
    match (reason(health), path.is_empty()) {
        (cause, true) => cause,
        (cause, false) if cause.is_empty() => path,
        (cause, false) => format!("{cause}: {path}"),
    }
}

/// The cause of a verdict that is not Ready: the one-word reason, else the
/// sentence; nothing for Ready.
fn reason(health: &Health) -> String {
    if health.status == HealthStatus::Ready {
        String::new()
    } else if health.reason.is_empty() {
        health.message.clone()
    } else {
        health.reason.clone()
    }
}

/// One `left out:` line per kind, always printed: an answer without them
/// would look complete when it is not.
fn left_out_lines(left_out: &[LeftOut], color: bool) -> String {
    let mut out = String::new();
    for kind in left_out {
        let resource = if kind.group.is_empty() {
            kind.resource.clone()
        } else {
            format!("{}.{}", kind.resource, kind.group)
        };
        let label = paint("left out:", health_style(HealthStatus::InProgress), color);
        let _ = writeln!(
            out,
            "{label} {resource} ({:?}: {})",
            kind.reason, kind.message
        );
    }
    out
}

fn kind_name(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

fn health_cell(health: Option<&Health>) -> Cell {
    match health {
        Some(health) => Cell::default().with(health.status.as_str(), health_style(health.status)),
        // A server that computes no health: say nothing rather than guess.
        None => Cell::plain("-"),
    }
}

fn health_style(status: HealthStatus) -> Style {
    match status {
        HealthStatus::Ready => AnsiColor::Green.on_default(),
        HealthStatus::InProgress => AnsiColor::Yellow.on_default(),
        HealthStatus::Failed => AnsiColor::Red.on_default().bold(),
        HealthStatus::Unknown => dim(),
    }
}

fn guide_style() -> Style {
    dim()
}

fn dim() -> Style {
    Style::new().dimmed()
}

fn paint(text: &str, style: Style, color: bool) -> String {
    if color && !text.is_empty() && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// A table cell: pieces of text, each with its style, measured without
/// the escapes, so that columns line up in colour too.
#[derive(Debug, Default)]
struct Cell {
    pieces: Vec<(String, Style)>,
}

impl Cell {
    fn plain(text: &str) -> Self {
        Self::default().with(text, Style::new())
    }

    fn with(mut self, text: &str, style: Style) -> Self {
        self.pieces.push((text.to_string(), style));
        self
    }

    /// The columns the cell takes on a terminal: a CJK name is two a
    /// character, a combining accent none.
    fn width(&self) -> usize {
        self.pieces
            .iter()
            .map(|(t, _)| unicode_width::UnicodeWidthStr::width(t.as_str()))
            .sum()
    }

    fn render(&self, color: bool) -> String {
        self.pieces
            .iter()
            .map(|(text, style)| paint(text, *style, color))
            .collect()
    }
}

/// Columns padded to their widest cell plus three spaces, as kubectl's
/// tabwriter does, and no trailing blanks.
fn table(rows: &[Vec<Cell>], color: bool) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(Cell::width)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        // The last non-empty cell ends the line: no padding after it.
        let used = row.iter().rposition(|c| c.width() > 0).map_or(0, |i| i + 1);
        for (c, cell) in row.iter().take(used).enumerate() {
            line.push_str(&cell.render(color));
            if c + 1 < used {
                line.push_str(&" ".repeat(widths[c] - cell.width() + 3));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// An age as kubectl prints it (apimachinery's `duration.HumanDuration`).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    let seconds = seconds.max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use primary_all::wire::{LeftOutReason, SecondaryList, TopLevelItem};
    use serde_json::json;

    fn health(status: HealthStatus, reason: &str) -> Option<Health> {
        Some(Health {
            status,
            reason: reason.to_string(),
            message: String::new(),
            path: Vec::new(),
        })
    }

    fn node(
        kind: &str,
        name: &str,
        link: &str,
        health: Option<Health>,
        children: Vec<TreeNode>,
    ) -> TreeNode {
        TreeNode {
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            namespace: Some("demo".to_string()),
            name: name.to_string(),
            link: Some(link.to_string()),
            health,
            children,
        }
    }

    fn object(api_version: &str, kind: &str, name: &str, created: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": { "name": name, "namespace": "demo", "creationTimestamp": created }
        }))
        .unwrap()
    }

    fn secrets_forbidden() -> LeftOut {
        LeftOut {
            group: String::new(),
            version: "v1".to_string(),
            kind: "Secret".to_string(),
            resource: "secrets".to_string(),
            namespace: Some("demo".to_string()),
            reason: LeftOutReason::Forbidden,
            message: r#"User "ann" cannot get resource "secrets" in API group """#.to_string(),
        }
    }

    /// A Database that owns a Deployment (→ ReplicaSet → Pod) and a
    /// StatefulSet (→ Pod, crash-looping), with a labelled ConfigMap.
    fn database(left_out: Vec<LeftOut>) -> PrimaryWithSecondaries {
        use HealthStatus::*;
        let tree = TreeNode {
            api_version: "example.com/v1".to_string(),
            link: None,
            ..node(
                "Database",
                "db-1",
                "",
                health(Ready, ""),
                vec![
                    node(
                        "ConfigMap",
                        "db-1-config",
                        "label",
                        health(Ready, ""),
                        vec![],
                    ),
                    node(
                        "Deployment",
                        "db-1-exporter",
                        OWNER_REFERENCE,
                        health(InProgress, "ReplicasNotReady"),
                        vec![node(
                            "ReplicaSet",
                            "db-1-exporter-7d9f8c6b5",
                            OWNER_REFERENCE,
                            health(InProgress, "ReplicasNotReady"),
                            vec![node(
                                "Pod",
                                "db-1-exporter-7d9f8c6b5-x7k2p",
                                OWNER_REFERENCE,
                                health(Unknown, ""),
                                vec![],
                            )],
                        )],
                    ),
                    node(
                        "StatefulSet",
                        "db-1",
                        OWNER_REFERENCE,
                        health(InProgress, "ReplicasNotReady"),
                        vec![node(
                            "Pod",
                            "db-1-0",
                            "rule:statefulset-pods",
                            health(Failed, "CrashLoopBackOff"),
                            vec![],
                        )],
                    ),
                ],
            )
        };
        let secondaries = vec![
            object("v1", "ConfigMap", "db-1-config", "2025-01-01T11:00:00Z"),
            object(
                "apps/v1",
                "Deployment",
                "db-1-exporter",
                "2025-01-01T11:58:30Z",
            ),
            object(
                "apps/v1",
                "ReplicaSet",
                "db-1-exporter-7d9f8c6b5",
                "2025-01-01T11:59:00Z",
            ),
            object(
                "v1",
                "Pod",
                "db-1-exporter-7d9f8c6b5-x7k2p",
                "2025-01-01T11:59:55Z",
            ),
            object("apps/v1", "StatefulSet", "db-1", "2024-12-30T12:00:00Z"),
            object("v1", "Pod", "db-1-0", "2025-01-01T09:30:00Z"),
        ];
        PrimaryWithSecondaries {
            api_version: "primary-all/v1".to_string(),
            kind: "PrimaryWithSecondaries".to_string(),
            prim_res: object("example.com/v1", "Database", "db-1", "2024-11-01T12:00:00Z"),
            sec_res: SecondaryList::new(secondaries),
            left_out,
            depth: 3,
            consistency: "latest".to_string(),
            tree: Some(tree),
            health: Some(Health {
                status: Failed,
                reason: "CrashLoopBackOff".to_string(),
                message: "back-off 5m0s restarting failed container".to_string(),
                path: vec![
                    "Database/db-1".to_string(),
                    "StatefulSet/db-1".to_string(),
                    "Pod/db-1-0".to_string(),
                ],
            }),
        }
    }

    fn options(color: bool, wide: bool) -> Options {
        Options {
            color,
            wide,
            now: "2025-01-01T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn columns_line_up_after_names_of_wide_characters() {
        let rows = vec![
            vec![Cell::plain("データ"), Cell::plain("Ready")],
            vec![Cell::plain("db"), Cell::plain("Ready")],
        ];
        let text = table(&rows, false);
        let starts: Vec<usize> = text
            .lines()
            .map(|line| {
                let before = &line[..line.find("Ready").unwrap()];
                unicode_width::UnicodeWidthStr::width(before)
            })
            .collect();
        assert_eq!(starts, [9, 9], "{text}");
    }

    #[test]
    fn the_verdict_gives_the_culprits_message_once_and_on_one_line() {
        let with = |reason: &str, message: &str| Health {
            status: HealthStatus::Failed,
            reason: reason.to_string(),
            message: message.to_string(),
            path: Vec::new(),
        };
        assert_eq!(
            culprits_sentence(&with("Pending", "Referenced issuer\n  not found")),
            Some("Referenced issuer not found".to_string())
        );
        // Without a reason the verdict line already ends with the message.
        assert_eq!(culprits_sentence(&with("", "bucket gone")), None);
        assert_eq!(culprits_sentence(&with("Pending", "")), None);
        assert_eq!(culprits_sentence(&with("Pending", "Pending")), None);
    }

    #[test]
    fn a_tree_shows_chains_links_and_the_failed_path() {
        let text = primary_tree(&database(vec![]), &options(false, false));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_wide_tree_adds_namespace_and_age() {
        let text = primary_tree(&database(vec![]), &options(false, true));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn left_out_kinds_are_always_printed() {
        let text = primary_tree(&database(vec![secrets_forbidden()]), &options(false, false));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn colour_marks_health_words_and_columns_still_line_up() {
        let text = primary_tree(&database(vec![secrets_forbidden()]), &options(true, false));
        insta::assert_snapshot!(text);
        assert!(text.contains("\u{1b}[31m"), "Failed is red");
        assert!(text.contains("\u{1b}[32m"), "Ready is green");
        assert!(text.contains("\u{1b}[33m"), "InProgress is yellow");
        assert!(text.contains("\u{1b}[2m"), "Unknown is dim");
        let plain = primary_tree(&database(vec![secrets_forbidden()]), &options(false, false));
        assert!(!plain.contains('\u{1b}'));
        assert_eq!(strip_escapes(&text), plain);
    }

    #[test]
    fn a_ready_primary_says_how_much_is_below_it() {
        let mut answer = database(vec![]);
        answer.health = health(HealthStatus::Ready, "");
        let text = primary_tree(&answer, &options(false, false));
        let last = text.lines().last().unwrap();
        insta::assert_snapshot!(last, @"Ready: Database/db-1 and the 6 objects below it");
    }

    #[test]
    fn an_answer_without_a_tree_is_shown_flat() {
        let mut answer = database(vec![]);
        answer.tree = None;
        answer.health = None;
        insta::assert_snapshot!(primary_tree(&answer, &options(false, false)));
    }

    fn chain() -> OwnerChain {
        let object = |kind: &str, name: &str, link: Option<&str>| ObjectRef {
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            namespace: Some("demo".to_string()),
            name: name.to_string(),
            link: link.map(str::to_string),
        };
        OwnerChain {
            api_version: "primary-all/v1".to_string(),
            kind: "OwnerChain".to_string(),
            object: object("Pod", "db-1-exporter-7d9f8c6b5-x7k2p", None),
            owners: vec![
                object(
                    "ReplicaSet",
                    "db-1-exporter-7d9f8c6b5",
                    Some(OWNER_REFERENCE),
                ),
                object("Deployment", "db-1-exporter", Some(OWNER_REFERENCE)),
                object("Database", "db-1", Some("label")),
            ],
            left_out: vec![],
        }
    }

    #[test]
    fn an_owner_chain_reads_from_the_top_down_to_the_object() {
        insta::assert_snapshot!(owner_chain(&chain(), false));
    }

    #[test]
    fn an_owner_chain_in_colour() {
        let text = owner_chain(&chain(), true);
        insta::assert_snapshot!(text);
        assert_eq!(strip_escapes(&text), owner_chain(&chain(), false));
    }

    #[test]
    fn an_owner_chain_that_stops_says_why() {
        let mut chain = chain();
        chain.owners.truncate(1);
        chain.left_out = vec![LeftOut {
            group: "apps".to_string(),
            resource: "deployments".to_string(),
            kind: "Deployment".to_string(),
            message: r#"User "ann" cannot get resource "deployments" in API group "apps""#
                .to_string(),
            ..secrets_forbidden()
        }];
        insta::assert_snapshot!(owner_chain(&chain, false));
    }

    #[test]
    fn an_object_without_owners_says_so() {
        let mut chain = chain();
        chain.owners.clear();
        insta::assert_snapshot!(owner_chain(&chain, false), @r"
        Pod/db-1-exporter-7d9f8c6b5-x7k2p
        Pod/db-1-exporter-7d9f8c6b5-x7k2p has no owner: it is a top-level object.
        ");
    }

    fn top_level() -> TopLevelList {
        let item = |kind: &str, name: &str, secondaries: u32, health: Health| TopLevelItem {
            object: ObjectRef {
                api_version: "v1".to_string(),
                kind: kind.to_string(),
                namespace: Some("demo".to_string()),
                name: name.to_string(),
                link: None,
            },
            secondaries,
            health,
        };
        TopLevelList {
            api_version: "primary-all/v1".to_string(),
            kind: "TopLevelList".to_string(),
            namespace: "demo".to_string(),
            items: vec![
                item(
                    "ConfigMap",
                    "kube-root-ca.crt",
                    0,
                    health(HealthStatus::Ready, "").unwrap(),
                ),
                item("Database", "db-1", 6, database(vec![]).health.unwrap()),
                item(
                    "Service",
                    "web",
                    0,
                    health(HealthStatus::Unknown, "").unwrap(),
                ),
            ],
            left_out: vec![secrets_forbidden()],
        }
    }

    #[test]
    fn the_top_level_table_is_like_kubectls() {
        insta::assert_snapshot!(top_level_table(&top_level(), false, false));
    }

    #[test]
    fn the_wide_top_level_table_shows_reason_and_path() {
        insta::assert_snapshot!(top_level_table(&top_level(), true, false));
    }

    #[test]
    fn the_top_level_table_in_colour() {
        let text = top_level_table(&top_level(), false, true);
        insta::assert_snapshot!(text);
        assert_eq!(
            strip_escapes(&text),
            top_level_table(&top_level(), false, false)
        );
    }

    #[test]
    fn an_empty_namespace_says_so() {
        let mut list = top_level();
        list.items.clear();
        list.left_out.clear();
        insta::assert_snapshot!(top_level_table(&list, false, false), @"No top-level objects found in demo namespace.");
    }

    #[test]
    fn ages_read_like_kubectls() {
        let ages: Vec<String> = [0, 59, 119, 120, 150, 600, 10_799, 10_800, 7 * 3600 + 60]
            .into_iter()
            .chain([47 * 3600, 48 * 3600 + 3600, 30 * 86_400, 800 * 86_400])
            .map(human_duration)
            .collect();
        assert_eq!(
            ages,
            [
                "0s", "59s", "119s", "2m", "2m30s", "10m", "179m", "3h", "7h1m", "47h", "2d1h",
                "30d", "2y70d"
            ]
        );
    }

    /// Removes SGR escapes (`ESC [ … m`).
    fn strip_escapes(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
