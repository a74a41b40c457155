//! The four ways a person finds out why a primary is not well, each run as
//! that person runs it: processes on a terminal, with the viewer's
//! kubeconfig, reading what the commands print.
//!
//! What a route must *know* is what its person types: the primary's kind
//! and name always, and for the informed kubectl route every kind the
//! operator makes. What it must *read* is every object or row its commands
//! print. A route has *located* the fault when something it printed names
//! the object at fault together with the cause. When a table names objects
//! that are not ready without saying why, the person does what they would
//! at a terminal: `kubectl get <Kind>/<name> -o json` of each, the deepest
//! first, until one says why.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use super::Scenario;
use crate::progress;

/// The routes, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// kubectl, by a person who knows every kind the operator makes.
    KubectlInformed,
    /// kubectl, by a person who knows nothing but the primary: every
    /// namespaced kind discovery lists.
    KubectlSweep,
    /// kube-lineage on the primary.
    KubeLineage,
    /// `kubectl primary-all get` on the primary.
    PrimaryAll,
}

impl Route {
    pub const ALL: [Route; 4] = [
        Route::KubectlInformed,
        Route::KubectlSweep,
        Route::KubeLineage,
        Route::PrimaryAll,
    ];

    /// The route's column value in the CSV (no commas).
    pub fn key(self) -> &'static str {
        match self {
            Route::KubectlInformed => "kubectl-informed",
            Route::KubectlSweep => "kubectl-sweep",
            Route::KubeLineage => "kube-lineage",
            Route::PrimaryAll => "primary-all",
        }
    }

    /// The route's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Route::KubectlInformed => "kubectl, knowing the kinds",
            Route::KubectlSweep => "kubectl, every kind",
            Route::KubeLineage => "kube-lineage",
            Route::PrimaryAll => "kubectl primary-all",
        }
    }
}

/// What one run of a route took and found.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The command lines the person typed, in order.
    pub commands: Vec<String>,
    /// How many kinds the person had to name.
    pub kinds_named: usize,
    /// How many objects or rows the commands printed.
    pub read: usize,
    /// Whether something printed named the object at fault and the cause.
    pub located: bool,
    /// The tree a tree-table route printed first (kube-lineage's, the
    /// plugin's), which the report shows as the person saw it.
    pub tree: Option<String>,
    /// From the first command to the last output.
    pub took: Duration,
}

/// The person at the terminal: the viewer's kubeconfig, a HOME of their own
/// (kubectl's and kube-lineage's discovery cache, warm after the first
/// command), and a PATH with kubectl, the plugin and kube-lineage.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub kubeconfig: PathBuf,
    pub home: PathBuf,
    pub path: OsString,
    pub kube_lineage: PathBuf,
}

/// What one command printed.
struct Printed {
    stdout: String,
    stderr: String,
}

impl Terminal {
    /// Runs `program args…` as the person; a failing command is part of
    /// what they see (kubectl prints the kinds it may not list and goes on),
    /// not an error of the case study.
    fn type_in(&self, commands: &mut Vec<String>, program: &str, args: &[&str]) -> Result<Printed> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("HOME", &self.home)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", &self.path);
        commands.push(format!("{program} {}", args.join(" ")));
        let out = cmd
            .output()
            .with_context(|| format!("failed to start {}", progress::describe(&cmd)))?;
        Ok(Printed {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `route` on `scenario`'s primary.
    pub fn walk(&self, route: Route, scenario: &Scenario, culprit: &str) -> Result<Walk> {
        let started = Instant::now();
        let mut commands = Vec::new();
        let mut tree = None;
        let (kinds_named, read, located) = match route {
            Route::KubectlInformed => self.kubectl_informed(&mut commands, scenario, culprit)?,
            Route::KubectlSweep => self.kubectl_sweep(&mut commands, scenario, culprit)?,
            Route::KubeLineage => {
                let lineage = self.kube_lineage.display().to_string();
                let printed = self.type_in(
                    &mut commands,
                    &lineage,
                    &[
                        scenario.resource,
                        scenario.primary,
                        "-n",
                        scenario.namespace,
                    ],
                )?;
                let found = self.read_table(
                    &mut commands,
                    &printed,
                    scenario,
                    culprit,
                    Table::KubeLineage,
                )?;
                tree = Some(printed.stdout);
                found
            }
            Route::PrimaryAll => {
                let target = format!("{}/{}", scenario.resource, scenario.primary);
                let printed = self.type_in(
                    &mut commands,
                    "kubectl",
                    &["primary-all", "get", &target, "-n", scenario.namespace],
                )?;
                let found = self.read_table(
                    &mut commands,
                    &printed,
                    scenario,
                    culprit,
                    Table::PrimaryAll,
                )?;
                tree = Some(printed.stdout);
                found
            }
        };
        Ok(Walk {
            commands,
            kinds_named,
            read,
            located,
            tree,
            took: started.elapsed(),
        })
    }

    /// The primary, then one `kubectl get` of every kind the operator makes,
    /// then the ownership walk from the primary's uid on what came back.
    fn kubectl_informed(
        &self,
        commands: &mut Vec<String>,
        scenario: &Scenario,
        culprit: &str,
    ) -> Result<(usize, usize, bool)> {
        let primary = self.type_in(
            commands,
            "kubectl",
            &[
                "get",
                scenario.resource,
                scenario.primary,
                "-n",
                scenario.namespace,
                "-o",
                "json",
            ],
        )?;
        let primary: Value = serde_json::from_str(&primary.stdout)
            .with_context(|| format!("kubectl printed no primary: {}", primary.stderr.trim()))?;
        let kinds = scenario.secondary_kinds.join(",");
        let listed = self.type_in(
            commands,
            "kubectl",
            &["get", &kinds, "-n", scenario.namespace, "-o", "json"],
        )?;
        let items = list_items(&listed.stdout);
        let below = descendants(&primary, &items);
        let located = below
            .iter()
            .any(|object| name_of(object) == culprit && says(object, scenario.cause));
        Ok((1 + scenario.secondary_kinds.len(), 1 + items.len(), located))
    }

    /// Discovery's every namespaced kind that can be listed, all of them in
    /// one `kubectl get`, then the ownership walk from the primary.
    fn kubectl_sweep(
        &self,
        commands: &mut Vec<String>,
        scenario: &Scenario,
        culprit: &str,
    ) -> Result<(usize, usize, bool)> {
        let resources = self.type_in(
            commands,
            "kubectl",
            &[
                "api-resources",
                "--verbs=list",
                "--namespaced",
                "-o",
                "name",
            ],
        )?;
        let all = resources
            .stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let listed = self.type_in(
            commands,
            "kubectl",
            &["get", &all, "-n", scenario.namespace, "-o", "json"],
        )?;
        let items = list_items(&listed.stdout);
        let Some(primary) = items
            .iter()
            .find(|o| kind_of(o) == scenario.kind && name_of(o) == scenario.primary)
        else {
            return Ok((1, items.len(), false));
        };
        let below = descendants(primary, &items);
        let located = below
            .iter()
            .any(|object| name_of(object) == culprit && says(object, scenario.cause));
        Ok((1, items.len(), located))
    }

    /// A tree table: located when a row names the culprit and the cause;
    /// else the person gets each object the table marks as not ready, the
    /// deepest first, until one says why.
    fn read_table(
        &self,
        commands: &mut Vec<String>,
        printed: &Printed,
        scenario: &Scenario,
        culprit: &str,
        table: Table,
    ) -> Result<(usize, usize, bool)> {
        let rows = table_rows(&printed.stdout);
        let mut read = rows.len();
        if table.locates(&printed.stdout, culprit, scenario.cause) {
            return Ok((1, read, true));
        }
        let mut suspects = not_ready(&printed.stdout, table);
        suspects.sort_by_key(|s| std::cmp::Reverse(s.depth));
        for suspect in suspects {
            let target = format!("{}/{}", suspect.kind, suspect.name);
            let got = self.type_in(
                commands,
                "kubectl",
                &["get", &target, "-n", scenario.namespace, "-o", "json"],
            )?;
            read += 1;
            if let Ok(object) = serde_json::from_str::<Value>(&got.stdout)
                && name_of(&object) == culprit
                && says(&object, scenario.cause)
            {
                return Ok((1, read, true));
            }
        }
        Ok((1, read, false))
    }
}

/// The two tree tables the routes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `NAME READY STATUS AGE`: READY is `False`, or `n/m` with n < m.
    KubeLineage,
    /// `NAME HEALTH REASON`: HEALTH is anything but `Ready`.
    PrimaryAll,
}

impl Table {
    /// Whether what the table printed names `culprit` with `cause`: on one
    /// row, or for primary-all also in the verdict under the tree.
    fn locates(self, output: &str, culprit: &str, cause: &str) -> bool {
        rows_locate(output, culprit, cause)
            || (self == Table::PrimaryAll && verdict_locates(output, culprit, cause))
    }
}

/// A row a table marks as not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub kind: String,
    pub name: String,
    /// How far below the primary (the primary is 0).
    pub depth: usize,
}

/// The rows of a tree table: every line after the header that names a
/// `Kind/name`.
pub fn table_rows(output: &str) -> Vec<&str> {
    output
        .lines()
        .skip(1)
        .filter(|line| object_word(line).is_some())
        .collect()
}

/// The first word of a row that looks like `Kind/name`, and how deep the
/// row's tree guide puts it (its column over the width of one level).
fn object_word(line: &str) -> Option<(&str, &str, usize)> {
    let start = line.find(|c: char| c.is_ascii_alphabetic())?;
    let word = line[start..].split_whitespace().next()?;
    let (kind, name) = word.split_once('/')?;
    let kind = kind.split('.').next().unwrap_or(kind);
    if kind.is_empty() || !kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let column = line[..start].chars().count();
    Some((kind, name, column))
}

/// Whether one row names `culprit` and says `cause`.
pub fn rows_locate(output: &str, culprit: &str, cause: &str) -> bool {
    table_rows(output)
        .iter()
        .any(|row| row.contains(culprit) && row.contains(cause))
}

/// Whether primary-all's verdict under the tree ends its path at `culprit`
/// and says `cause`, on its line or on the message line under it.
pub fn verdict_locates(output: &str, culprit: &str, cause: &str) -> bool {
    let lines: Vec<&str> = output.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let Some((word, path)) = line.split_once(": ") else {
            return false;
        };
        let is_verdict = ["Failed", "InProgress", "Unknown"].contains(&word);
        let last = path.rsplit(" → ").next().unwrap_or(path);
        let names_culprit = last.split(": ").next().is_some_and(|object| {
            object
                .rsplit_once('/')
                .is_some_and(|(_, name)| name == culprit)
        });
        let under = lines.get(i + 1).filter(|next| next.starts_with("  "));
        is_verdict
            && names_culprit
            && (line.contains(cause) || under.is_some_and(|next| next.contains(cause)))
    })
}

/// The rows `table` marks as not ready, Events left out (they are
/// messages about objects, not objects to get).
pub fn not_ready(output: &str, table: Table) -> Vec<Suspect> {
    let mut suspects = Vec::new();
    for row in table_rows(output) {
        let Some((kind, name, column)) = object_word(row) else {
            continue;
        };
        if kind == "Event" {
            continue;
        }
        // The cells after the name, past primary-all's `(label)` marks.
        let rest = row
            .split_whitespace()
            .skip_while(|w| !w.contains('/'))
            .skip(1)
            .filter(|w| !w.starts_with('('))
            .collect::<Vec<_>>();
        let Some(first) = rest.first().copied() else {
            continue;
        };
        let unready = match table {
            Table::KubeLineage => first == "False" || short_of_replicas(first),
            Table::PrimaryAll => first != "Ready",
        };
        if unready {
            suspects.push(Suspect {
                kind: kind.to_string(),
                name: name.to_string(),
                depth: column,
            });
        }
    }
    suspects
}

/// `n/m` with n < m: kube-lineage's READY of a workload.
fn short_of_replicas(cell: &str) -> bool {
    match cell.split_once('/') {
        Some((ready, wanted)) => match (ready.parse::<u32>(), wanted.parse::<u32>()) {
            (Ok(ready), Ok(wanted)) => ready < wanted,
            _ => false,
        },
        None => false,
    }
}

/// The items of a `kubectl get -o json` List (none when it printed none).
pub fn list_items(stdout: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(stdout)
        .ok()
        .and_then(|list| list.get("items").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Everything below `primary` in `items`: owned by it through
/// ownerReferences, at any depth, or labelled with its uid by
/// primary-all's label convention.
pub fn descendants(primary: &Value, items: &[Value]) -> Vec<Value> {
    let Some(root) = uid_of(primary) else {
        return Vec::new();
    };
    let mut frontier = vec![root.to_string()];
    let mut found: Vec<Value> = Vec::new();
    while let Some(owner) = frontier.pop() {
        for item in items {
            let owned = item
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.get("uid").and_then(Value::as_str) == Some(owner.as_str()))
                });
            let labelled = owner == root
                && item.pointer("/metadata/labels/primary-all~1primary-uid")
                    == Some(&Value::from(root));
            let uid = uid_of(item).unwrap_or_default();
            if (owned || labelled) && !found.iter().any(|f| uid_of(f) == Some(uid)) {
                found.push(item.clone());
                frontier.push(uid.to_string());
            }
        }
    }
    found
}

/// Whether any string in `object` contains `cause`.
pub fn says(object: &Value, cause: &str) -> bool {
    match object {
        Value::String(s) => s.contains(cause),
        Value::Array(values) => values.iter().any(|v| says(v, cause)),
        Value::Object(map) => map.values().any(|v| says(v, cause)),
        _ => false,
    }
}

fn uid_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn kind_of(object: &Value) -> &str {
    object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(kind: &str, name: &str, uid: &str, owner: Option<&str>) -> Value {
        let mut object = json!({"kind": kind, "metadata": {"name": name, "uid": uid}});
        if let Some(owner) = owner {
            object["metadata"]["ownerReferences"] = json!([{"uid": owner}]);
        }
        object
    }

    #[test]
    fn the_walk_follows_owner_references_to_any_depth_and_no_further() {
        let primary = object("Database", "db-1", "u-db", None);
        let items = vec![
            object("Pod", "pooler-a-1", "u-pod", Some("u-rs")),
            object("Deployment", "pooler", "u-dep", Some("u-db")),
            object("ReplicaSet", "pooler-a", "u-rs", Some("u-dep")),
            object("ConfigMap", "unrelated", "u-cm", Some("u-other")),
        ];
        let below = descendants(&primary, &items);
        let mut names: Vec<&str> = below.iter().map(name_of).collect();
        names.sort();
        assert_eq!(names, ["pooler", "pooler-a", "pooler-a-1"]);
    }

    #[test]
    fn the_walk_takes_objects_labelled_with_the_primarys_uid() {
        let primary = object("Database", "db-1", "u-db", None);
        let mut secret = object("Secret", "db-1-credentials", "u-s", None);
        secret["metadata"]["labels"] = json!({"primary-all/primary-uid": "u-db"});
        let below = descendants(&primary, &[secret]);
        assert_eq!(below.len(), 1);
    }

    #[test]
    fn a_cause_is_found_in_any_string_of_an_object() {
        let pod = json!({"status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "ErrImageNeverPull"}}}
        ]}});
        assert!(says(&pod, "ErrImageNeverPull"));
        assert!(!says(&pod, "CrashLoopBackOff"));
    }

    const LINEAGE: &str = "\
NAME                                  READY   STATUS              AGE
Database/db-1                         -                           7m
├── Deployment/db-1-pooler            2/3                         7m
│   ├── Event/db-1-pooler.18ed        -       ScalingReplicaSet   7m
│   └── ReplicaSet/db-1-pooler-67f    0/1                         6m
│       └── Pod/db-1-pooler-67f-ngj   0/1     ErrImageNeverPull   6m
└── Certificate/api-tls               False   DoesNotExist        6m
";

    #[test]
    fn a_lineage_row_locates_when_it_names_the_culprit_and_the_cause() {
        assert!(rows_locate(
            LINEAGE,
            "db-1-pooler-67f-ngj",
            "ErrImageNeverPull"
        ));
        assert!(!rows_locate(LINEAGE, "db-1-pooler-67f", "DoesNotExist"));
        assert_eq!(table_rows(LINEAGE).len(), 6);
    }

    #[test]
    fn lineage_rows_short_of_replicas_or_false_are_not_ready_and_events_are_skipped() {
        let suspects = not_ready(LINEAGE, Table::KubeLineage);
        let names: Vec<&str> = suspects.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "db-1-pooler",
                "db-1-pooler-67f",
                "db-1-pooler-67f-ngj",
                "api-tls"
            ]
        );
        assert!(suspects[2].depth > suspects[1].depth);
        assert!(suspects[1].depth > suspects[0].depth);
    }

    #[test]
    fn primary_alls_verdict_locates_when_its_path_ends_at_the_culprit_and_says_the_cause() {
        let output = "\
NAME                              HEALTH   REASON
Certificate/api-tls               Failed   DoesNotExist
└─ CertificateRequest/api-tls-1   Failed   Pending

Failed: Certificate/api-tls → CertificateRequest/api-tls-1: Pending
  Referenced issuer.cert-manager.io \"selfsigned\" not found
";
        let cause = "issuer.cert-manager.io \"selfsigned\" not found";
        assert!(verdict_locates(output, "api-tls-1", cause));
        assert!(!verdict_locates(output, "api-tls", cause));
        assert!(!rows_locate(output, "api-tls-1", cause));

        let ends_at_the_primary = "Failed: Certificate/api-tls: DoesNotExist\n  Issuing certificate as Secret does not exist\n";
        assert!(!verdict_locates(ends_at_the_primary, "api-tls-1", cause));
    }

    #[test]
    fn primary_all_rows_not_ready_are_every_health_but_ready() {
        let output = "\
NAME                              HEALTH   REASON
Certificate/api-tls               Failed   DoesNotExist
├─ CertificateRequest/api-tls-1   Failed   Pending
└─ Secret/api-tls-vkt6t (label)   Ready

Failed: Certificate/api-tls: DoesNotExist
";
        let suspects = not_ready(output, Table::PrimaryAll);
        assert_eq!(
            suspects,
            [
                Suspect {
                    kind: "Certificate".into(),
                    name: "api-tls".into(),
                    depth: 0
                },
                Suspect {
                    kind: "CertificateRequest".into(),
                    name: "api-tls-1".into(),
                    depth: 3
                },
            ]
        );
        assert_eq!(table_rows(output).len(), 3);
    }
}
