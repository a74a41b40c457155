//! How an object is doing, and the worst of a tree of them.
//!
//! The rules follow the approach of kstatus (`sigs.k8s.io/cli-utils`): one
//! verdict per object, read only from what the object itself says, so that
//! "is it done?" has the same answer for every kind. Generic signals come
//! first, because any controller can set them: a deletion in progress, a
//! `metadata.generation` the controller has not observed yet, and the
//! `Stalled`, `Failed` and `Reconciling` conditions. Then the well-known
//! built-in kinds, which predate conditions, are judged by their own status
//! fields (replica counts, phases). Anything else is judged by its
//! `Ready`-like conditions, and an object with nothing to wait for is
//! [`Ready`](HealthStatus::Ready).
//!
//! Where this differs from kstatus, it is on purpose: a `Ready`-like
//! condition that is `False` is [`Failed`](HealthStatus::Failed) (kstatus
//! waits), a failed Pod and a `ReplicaFailure` condition are failures, and a
//! status that cannot be read is [`Unknown`](HealthStatus::Unknown) with the
//! field that was odd, instead of an error.
//!
//! [`roll_up`] then takes the worst verdict of a tree, with the path to the
//! object it comes from.

use kube::api::DynamicObject;
use primary_all::wire::{Health, HealthStatus, TreeNode};
use serde_json::Value;

/// An object's own health (its `path` is empty).
///
/// Never fails: a status that cannot be read gives
/// [`HealthStatus::Unknown`] with reason `UnreadableStatus` and a message
/// naming the field.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use primary_all_health as health;
/// use kube::api::DynamicObject;
///
/// let deployment: DynamicObject = serde_json::from_value(serde_json::json!({
///     "apiVersion": "apps/v1", "kind": "Deployment",
///     "metadata": {"name": "web"},
///     "spec": {"replicas": 3},
///     "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 1},
/// }))?;
/// let health = health::of(&deployment);
/// assert_eq!(health.reason, "ReplicasNotReady");
/// assert_eq!(health.message, "1 of 3 replicas ready");
/// # Ok(())
/// # }
/// ```
pub fn of(object: &DynamicObject) -> Health {
    own(object)
        .unwrap_or_else(|Odd(message)| verdict(HealthStatus::Unknown, "UnreadableStatus", message))
}

/// The worst health of `node` and everything below it.
///
/// A node whose `health` is `None` counts as [`HealthStatus::Unknown`]
/// (reason `NotComputed`). Among equally bad nodes the first in pre-order
/// wins (the node itself, then its children in order). The result carries
/// the culprit's reason and message, and in `path` the `Kind/name` of every
/// node from `node` down to the culprit: just `[node]` when the node itself
/// is the worst.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use primary_all_health as health;
/// use primary_all::wire::TreeNode;
///
/// let tree: TreeNode = serde_json::from_value(serde_json::json!({
///     "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
///     "health": {"status": "Ready"},
///     "children": [{
///         "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
///         "health": {"status": "Failed", "reason": "FailedCreate"},
///     }],
/// }))?;
/// assert_eq!(health::roll_up(&tree).path, ["Deployment/web", "ReplicaSet/web-1"]);
/// # Ok(())
/// # }
/// ```
pub fn roll_up(node: &TreeNode) -> Health {
    let here = format!("{}/{}", node.kind, node.name);
    let mut worst = node
        .health
        .clone()
        .unwrap_or_else(|| verdict(HealthStatus::Unknown, "NotComputed", "health not computed"));
    worst.path = vec![here.clone()];
    for child in &node.children {
        let below = roll_up(child);
        if below.status > worst.status {
            worst = Health {
                path: std::iter::once(here.clone()).chain(below.path).collect(),
                ..below
            };
        }
    }
    worst
}

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

/// The kinds judged by their own status fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WellKnown {
    Deployment,
    StatefulSet,
    ReplicaSet,
    DaemonSet,
    Pod,
    Job,
    PersistentVolumeClaim,
    PersistentVolume,
    Service,
    PodDisruptionBudget,
}

impl WellKnown {
    /// The rule set for the object's group and kind, if it has one.
    fn of(object: &DynamicObject) -> Option<Self> {
        let types = object.types.as_ref()?;
        let group = primary_all::wire::group_of(&types.api_version);
        Some(match (group, types.kind.as_str()) {
            ("apps" | "extensions", "Deployment") => Self::Deployment,
            ("apps", "StatefulSet") => Self::StatefulSet,
            ("apps" | "extensions", "ReplicaSet") => Self::ReplicaSet,
            ("apps" | "extensions", "DaemonSet") => Self::DaemonSet,
            ("", "Pod") => Self::Pod,
            ("batch", "Job") => Self::Job,
            ("", "PersistentVolumeClaim") => Self::PersistentVolumeClaim,
            ("", "PersistentVolume") => Self::PersistentVolume,
            ("", "Service") => Self::Service,
            ("policy", "PodDisruptionBudget") => Self::PodDisruptionBudget,
            _ => return None,
        })
    }

    /// Whether a controller writes its status: without one, it has not
    /// looked at the object yet. A Service has a status only as a load
    /// balancer.
    fn has_a_controller(self) -> bool {
        self != Self::Service
    }
}

/// The `Ready`-like conditions of kinds without rules of their own: `False`
/// is a failure, `Unknown` is still in progress.
const READY_LIKE: [&str; 4] = ["Ready", "Available", "Healthy", "Synced"];

/// Container waiting reasons that will not resolve by waiting.
/// `ErrImageNeverPull` is one: the image is not on the node and the Pod's
/// `imagePullPolicy: Never` forbids fetching it (the case study's fault).
const FAILING_WAITS: [&str; 6] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "InvalidImageName",
];

fn own(object: &DynamicObject) -> Read<Health> {
    if object.metadata.deletion_timestamp.is_some() {
        let finalizers = object.metadata.finalizers.as_deref().unwrap_or_default();
        let message = if finalizers.is_empty() {
            "being deleted".to_string()
        } else {
            format!(
                "being deleted, waiting for finalizers: {}",
                finalizers.join(", ")
            )
        };
        return Ok(in_progress("Terminating", message));
    }
    let data = &object.data;
    let kind = WellKnown::of(object);
    match lookup(data, &["status"])? {
        None if kind.is_some_and(WellKnown::has_a_controller) => {
            return Ok(in_progress(
                "NotObserved",
                "no status yet: its controller has not reported",
            ));
        }
        None if kind.is_none() => return Ok(ready("no status to wait for")),
        Some(status) if !status.is_object() => {
            return Err(Odd(format!("status is {}, not a map", a(status))));
        }
        _ => {}
    }

    if let Some(generation) = object.metadata.generation
        && let Some(observed) = status_int(data, "observedGeneration")?
        && observed < generation
    {
        return Ok(in_progress(
            "GenerationNotObserved",
            format!("generation {generation} not observed yet (last observed: {observed})"),
        ));
    }

    let conditions = conditions(data)?;
    for c in &conditions {
        if matches!(c.type_, "Stalled" | "Failed") && c.status == "True" {
            return Ok(failed(c.reason_or_type(), c.message));
        }
    }
    if let Some(c) = find(&conditions, "Reconciling", "True") {
        return Ok(in_progress(c.reason_or_type(), c.message));
    }

    match kind {
        Some(WellKnown::Deployment) => deployment(data, &conditions),
        Some(WellKnown::StatefulSet) => stateful_set(data),
        Some(WellKnown::ReplicaSet) => replica_set(data, &conditions),
        Some(WellKnown::DaemonSet) => daemon_set(data),
        Some(WellKnown::Pod) => pod(data, &conditions),
        Some(WellKnown::Job) => job(data, &conditions),
        Some(WellKnown::PersistentVolumeClaim) => claim(data),
        Some(WellKnown::PersistentVolume) => volume(data),
        Some(WellKnown::Service) => service(data),
        Some(WellKnown::PodDisruptionBudget) => disruption_budget(data),
        None => Ok(by_ready_conditions(&conditions)),
    }
}

/// The worst `Ready`-like condition, the first among equals.
fn by_ready_conditions(conditions: &[Condition<'_>]) -> Health {
    let mut worst = ready("");
    for c in conditions.iter().filter(|c| READY_LIKE.contains(&c.type_)) {
        let health = match c.status {
            "False" => failed(c.reason_or_type(), c.message),
            "Unknown" => in_progress(c.reason_or_type(), c.message),
            _ => continue,
        };
        if health.status > worst.status {
            worst = health;
        }
    }
    worst
}

/// A `ReplicaFailure` condition: pods cannot be created (quota, admission).
fn replica_failure(conditions: &[Condition<'_>]) -> Option<Health> {
    find(conditions, "ReplicaFailure", "True").map(|c| failed(c.reason_or_type(), c.message))
}

fn deployment(data: &Value, conditions: &[Condition<'_>]) -> Read<Health> {
    if let Some(c) = conditions
        .iter()
        .find(|c| c.type_ == "Progressing" && c.reason == "ProgressDeadlineExceeded")
    {
        return Ok(failed(
            c.reason,
            or(c.message, "progress deadline exceeded"),
        ));
    }
    if let Some(failure) = replica_failure(conditions) {
        return Ok(failure);
    }
    let wanted = spec_replicas(data)?;
    let replicas = status_count(data, "replicas")?;
    let updated = status_count(data, "updatedReplicas")?;
    let ready_ = status_count(data, "readyReplicas")?;
    let available = status_count(data, "availableReplicas")?;
    if updated < wanted {
        return Ok(in_progress(
            "ReplicasNotUpdated",
            of_n(updated, wanted, "replicas updated"),
        ));
    }
    if replicas > wanted {
        return Ok(extra_replicas(replicas - wanted));
    }
    if ready_ < wanted {
        return Ok(in_progress(
            "ReplicasNotReady",
            of_n(ready_, wanted, "replicas ready"),
        ));
    }
    if available < wanted {
        return Ok(in_progress(
            "ReplicasNotAvailable",
            of_n(available, wanted, "replicas available"),
        ));
    }
    Ok(ready(of_n(ready_, wanted, "replicas ready")))
}

fn stateful_set(data: &Value) -> Read<Health> {
    let wanted = spec_replicas(data)?;
    let replicas = status_count(data, "replicas")?;
    let ready_ = status_count(data, "readyReplicas")?;
    let current = status_count(data, "currentReplicas")?;
    let updated = status_count(data, "updatedReplicas")?;
    if ready_ < wanted {
        return Ok(in_progress(
            "ReplicasNotReady",
            of_n(ready_, wanted, "replicas ready"),
        ));
    }
    if replicas > wanted {
        return Ok(extra_replicas(replicas - wanted));
    }
    if string(data, &["spec", "updateStrategy", "type"])? == Some("OnDelete") {
        // Pods move to a new revision only when someone deletes them.
        return Ok(ready(of_n(ready_, wanted, "replicas ready")));
    }
    let partition = int(
        data,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )?;
    if let Some(partition) = partition.filter(|p| *p > 0) {
        let below = (wanted - partition).max(0);
        if updated < below {
            return Ok(in_progress(
                "PartitionNotRolledOut",
                of_n(updated, below, "replicas below the partition updated"),
            ));
        }
        return Ok(ready(of_n(ready_, wanted, "replicas ready")));
    }
    if updated < wanted {
        return Ok(in_progress(
            "ReplicasNotUpdated",
            of_n(updated, wanted, "replicas updated"),
        ));
    }
    if current < wanted {
        return Ok(in_progress(
            "ReplicasNotCurrent",
            of_n(current, wanted, "replicas current"),
        ));
    }
    let current_revision = string(data, &["status", "currentRevision"])?;
    let update_revision = string(data, &["status", "updateRevision"])?;
    if let (Some(current), Some(update)) = (current_revision, update_revision)
        && current != update
    {
        return Ok(in_progress(
            "RevisionNotRolledOut",
            format!("replicas at revision {current}, rolling out {update}"),
        ));
    }
    Ok(ready(of_n(ready_, wanted, "replicas ready")))
}

fn replica_set(data: &Value, conditions: &[Condition<'_>]) -> Read<Health> {
    if let Some(failure) = replica_failure(conditions) {
        return Ok(failure);
    }
    let wanted = spec_replicas(data)?;
    let replicas = status_count(data, "replicas")?;
    let ready_ = status_count(data, "readyReplicas")?;
    let available = status_count(data, "availableReplicas")?;
    if ready_ < wanted {
        return Ok(in_progress(
            "ReplicasNotReady",
            of_n(ready_, wanted, "replicas ready"),
        ));
    }
    if available < wanted {
        return Ok(in_progress(
            "ReplicasNotAvailable",
            of_n(available, wanted, "replicas available"),
        ));
    }
    if replicas > wanted {
        return Ok(extra_replicas(replicas - wanted));
    }
    Ok(ready(of_n(ready_, wanted, "replicas ready")))
}

fn daemon_set(data: &Value) -> Read<Health> {
    let Some(desired) = status_int(data, "desiredNumberScheduled")? else {
        return Ok(in_progress(
            "NotObserved",
            "desiredNumberScheduled not reported yet",
        ));
    };
    let checks = [
        (
            "currentNumberScheduled",
            "PodsNotScheduled",
            "pods scheduled",
        ),
        ("updatedNumberScheduled", "PodsNotUpdated", "pods updated"),
        ("numberReady", "PodsNotReady", "pods ready"),
        ("numberAvailable", "PodsNotAvailable", "pods available"),
    ];
    for (field, reason, what) in checks {
        let n = status_count(data, field)?;
        if n < desired {
            return Ok(in_progress(reason, of_n(n, desired, what)));
        }
    }
    Ok(ready(of_n(desired, desired, "pods ready")))
}

fn pod(data: &Value, conditions: &[Condition<'_>]) -> Read<Health> {
    let phase = string(data, &["status", "phase"])?;
    match phase {
        Some("Succeeded") => return Ok(ready("completed")),
        Some("Failed") => {
            let reason = string(data, &["status", "reason"])?.unwrap_or("PodFailed");
            let message = string(data, &["status", "message"])?
                .unwrap_or("all containers stopped, at least one in failure");
            return Ok(failed(reason, message));
        }
        _ => {}
    }
    for list in ["initContainerStatuses", "containerStatuses"] {
        if let Some(failure) = failing_container(data, list)? {
            return Ok(failure);
        }
    }
    match phase {
        Some("Running") => match find(conditions, "Ready", "True") {
            Some(_) => Ok(ready("running and ready")),
            None => {
                let why = conditions.iter().find(|c| c.type_ == "Ready");
                Ok(in_progress(
                    "PodNotReady",
                    why.map_or("running, not ready", |c| {
                        or(c.message, "running, not ready")
                    }),
                ))
            }
        },
        Some("Pending") => match find(conditions, "PodScheduled", "False") {
            Some(c) => Ok(in_progress(c.reason_or_type(), c.message)),
            None => Ok(
                waiting_container(data)?.unwrap_or_else(|| in_progress("PodPending", "pending"))
            ),
        },
        None => Ok(in_progress("NotObserved", "no phase yet")),
        Some("Unknown") => Ok(unknown("PodPhaseUnknown", "its node stopped reporting")),
        Some(other) => Err(Odd(format!("status.phase is {other:?}, not a pod phase"))),
    }
}

/// The first container of `status.<list>` waiting for a reason that will
/// not go away by itself.
fn failing_container(data: &Value, list: &str) -> Read<Option<Health>> {
    let Some(statuses) = lookup(data, &["status", list])? else {
        return Ok(None);
    };
    let Value::Array(statuses) = statuses else {
        return Err(Odd(format!("status.{list} is {}, not a list", a(statuses))));
    };
    for (i, container) in statuses.iter().enumerate() {
        let Some(reason) = string(container, &["state", "waiting", "reason"])
            .map_err(|Odd(m)| Odd(format!("status.{list}[{i}]: {m}")))?
        else {
            continue;
        };
        if FAILING_WAITS.contains(&reason) {
            let name = string(container, &["name"]).ok().flatten().unwrap_or("?");
            let message = string(container, &["state", "waiting", "message"])
                .ok()
                .flatten()
                .unwrap_or(reason);
            return Ok(Some(failed(reason, format!("container {name}: {message}"))));
        }
    }
    Ok(None)
}

/// A scheduled Pod that is still pending says why in its first waiting
/// container (`ContainerCreating`, `PodInitializing`): the reason the
/// person would otherwise look up with `kubectl describe`.
fn waiting_container(data: &Value) -> Read<Option<Health>> {
    for list in ["initContainerStatuses", "containerStatuses"] {
        let Some(Value::Array(statuses)) = lookup(data, &["status", list])? else {
            continue;
        };
        for container in statuses {
            if let Some(reason) = string(container, &["state", "waiting", "reason"])
                .ok()
                .flatten()
            {
                let name = string(container, &["name"]).ok().flatten().unwrap_or("?");
                let message = string(container, &["state", "waiting", "message"])
                    .ok()
                    .flatten()
                    .unwrap_or(reason);
                return Ok(Some(in_progress(
                    reason,
                    format!("container {name}: {message}"),
                )));
            }
        }
    }
    Ok(None)
}

fn job(data: &Value, conditions: &[Condition<'_>]) -> Read<Health> {
    if let Some(c) =
        find(conditions, "Failed", "True").or_else(|| find(conditions, "FailureTarget", "True"))
    {
        return Ok(failed(c.reason_or_type(), c.message));
    }
    if find(conditions, "Complete", "True").is_some() {
        let succeeded = status_count(data, "succeeded")?;
        return Ok(ready(format!("complete, {succeeded} succeeded")));
    }
    if find(conditions, "Suspended", "True").is_some() {
        return Ok(ready("suspended"));
    }
    let active = status_count(data, "active")?;
    let succeeded = status_count(data, "succeeded")?;
    let failures = status_count(data, "failed")?;
    if lookup(data, &["status", "startTime"])?.is_none() {
        return Ok(in_progress("JobNotStarted", "not started yet"));
    }
    Ok(in_progress(
        "JobRunning",
        format!("{active} active, {succeeded} succeeded, {failures} failed"),
    ))
}

fn claim(data: &Value) -> Read<Health> {
    match string(data, &["status", "phase"])? {
        Some("Bound") => Ok(ready("bound")),
        Some("Lost") => Ok(failed("ClaimLost", "its bound volume no longer exists")),
        Some("Pending") => Ok(in_progress("NotBound", "waiting for a volume")),
        None => Ok(in_progress("NotObserved", "no phase yet")),
        Some(other) => Err(Odd(format!("status.phase is {other:?}, not a claim phase"))),
    }
}

fn volume(data: &Value) -> Read<Health> {
    match string(data, &["status", "phase"])? {
        Some("Bound") => Ok(ready("bound")),
        Some("Available") => Ok(ready("available")),
        Some("Released") => Ok(ready("released by its claim")),
        Some("Failed") => {
            let reason = string(data, &["status", "reason"])?.unwrap_or("VolumeFailed");
            let message = string(data, &["status", "message"])?.unwrap_or("reclamation failed");
            Ok(failed(reason, message))
        }
        Some("Pending") => Ok(in_progress("VolumePending", "not available yet")),
        None => Ok(in_progress("NotObserved", "no phase yet")),
        Some(other) => Err(Odd(format!(
            "status.phase is {other:?}, not a volume phase"
        ))),
    }
}

fn service(data: &Value) -> Read<Health> {
    if string(data, &["spec", "type"])? != Some("LoadBalancer") {
        return Ok(ready(""));
    }
    match lookup(data, &["status", "loadBalancer", "ingress"])? {
        Some(Value::Array(ingress)) if !ingress.is_empty() => Ok(ready("load balancer ready")),
        None | Some(Value::Array(_)) => Ok(in_progress(
            "LoadBalancerPending",
            "waiting for a load balancer address",
        )),
        Some(other) => Err(Odd(format!(
            "status.loadBalancer.ingress is {}, not a list",
            a(other)
        ))),
    }
}

fn disruption_budget(data: &Value) -> Read<Health> {
    let healthy = status_count(data, "currentHealthy")?;
    let required = status_count(data, "desiredHealthy")?;
    if healthy < required {
        return Ok(in_progress(
            "NotEnoughHealthyPods",
            format!("{healthy} pods healthy, {required} required"),
        ));
    }
    Ok(ready(format!(
        "{healthy} pods healthy, {required} required"
    )))
}

// ---------------------------------------------------------------------------
// Reading a status
// ---------------------------------------------------------------------------

/// Something in an object that is not what Kubernetes writes there, said in
/// words.
struct Odd(String);

/// What reading a status gives: a value, or what was odd.
type Read<T> = Result<T, Odd>;

/// One entry of `status.conditions`.
struct Condition<'a> {
    type_: &'a str,
    status: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl Condition<'_> {
    /// The reason, or the type when the controller gave none.
    fn reason_or_type(&self) -> &str {
        or(self.reason, self.type_)
    }
}

/// `status.conditions`, each with a string `type` and `status`.
fn conditions(data: &Value) -> Read<Vec<Condition<'_>>> {
    let Some(list) = lookup(data, &["status", "conditions"])? else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = list else {
        return Err(Odd(format!("status.conditions is {}, not a list", a(list))));
    };
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |name: &str| {
                string(c, &[name]).map_err(|Odd(m)| Odd(format!("status.conditions[{i}]: {m}")))
            };
            let required = |name: &str| {
                field(name)?.ok_or_else(|| Odd(format!("status.conditions[{i}] has no {name}")))
            };
            Ok(Condition {
                type_: required("type")?,
                status: required("status")?,
                reason: field("reason")?.unwrap_or_default(),
                message: field("message")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// The first condition of type `type_` with status `status`.
fn find<'c, 'a>(
    conditions: &'c [Condition<'a>],
    type_: &str,
    status: &str,
) -> Option<&'c Condition<'a>> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
}

/// The value at `path` below `data`; `None` when absent or `null` (as
/// `data` is in [`DynamicObject::new`]), odd when a step on the way is
/// something else than a map.
fn lookup<'a>(data: &'a Value, path: &[&str]) -> Read<Option<&'a Value>> {
    let mut here = data;
    for (i, key) in path.iter().enumerate() {
        if here.is_null() {
            return Ok(None);
        }
        let Value::Object(map) = here else {
            let what = if i == 0 {
                "the object".to_string()
            } else {
                path[..i].join(".")
            };
            return Err(Odd(format!("{what} is {}, not a map", a(here))));
        };
        match map.get(*key) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => here = value,
        }
    }
    Ok(Some(here))
}

/// The integer at `path`, if any.
fn int(data: &Value, path: &[&str]) -> Read<Option<i64>> {
    match lookup(data, path)? {
        None => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or_else(|| {
            Odd(format!(
                "{} is {}, not an integer",
                path.join("."),
                a(value)
            ))
        }),
    }
}

/// The string at `path`, if any.
fn string<'a>(data: &'a Value, path: &[&str]) -> Read<Option<&'a str>> {
    match lookup(data, path)? {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .map(Some)
            .ok_or_else(|| Odd(format!("{} is {}, not a string", path.join("."), a(value)))),
    }
}

/// `status.<field>` as an integer, if any.
fn status_int(data: &Value, field: &str) -> Read<Option<i64>> {
    int(data, &["status", field])
}

/// `status.<field>` as a count: absent means none (Kubernetes omits zeros).
fn status_count(data: &Value, field: &str) -> Read<i64> {
    Ok(status_int(data, field)?.unwrap_or(0))
}

/// `spec.replicas`, 1 when absent as the controllers assume.
fn spec_replicas(data: &Value) -> Read<i64> {
    Ok(int(data, &["spec", "replicas"])?.unwrap_or(1))
}

/// A JSON value's type with its article, for messages.
fn a(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fraction",
        Value::Number(_) => "a number out of range",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `text`, or `fallback` when it is empty.
fn or<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.is_empty() { fallback } else { text }
}

// ---------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------

fn verdict(status: HealthStatus, reason: &str, message: impl Into<String>) -> Health {
    Health {
        status,
        reason: reason.to_string(),
        message: message.into(),
        path: Vec::new(),
    }
}

fn ready(message: impl Into<String>) -> Health {
    verdict(HealthStatus::Ready, "", message)
}

fn in_progress(reason: &str, message: impl Into<String>) -> Health {
    verdict(HealthStatus::InProgress, reason, message)
}

fn failed(reason: &str, message: impl Into<String>) -> Health {
    verdict(HealthStatus::Failed, reason, message)
}

fn unknown(reason: &str, message: impl Into<String>) -> Health {
    verdict(HealthStatus::Unknown, reason, message)
}

/// `n` replicas or pods too many, on their way out.
fn extra_replicas(n: i64) -> Health {
    in_progress(
        "ExtraReplicas",
        format!("{n} replicas too many, terminating"),
    )
}

/// "1 of 3 replicas ready".
fn of_n(n: i64, of: i64, what: &str) -> String {
    format!("{n} of {of} {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use HealthStatus::{Failed, InProgress, Ready, Unknown};

    // --- generic rules -----------------------------------------------------

    #[test]
    fn an_object_being_deleted_is_in_progress_as_terminating() {
        let health = health(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["x/y"]},
        }));
        assert_eq!(verdict_of(&health), (InProgress, "Terminating"));
        assert_eq!(health.message, "being deleted, waiting for finalizers: x/y");
    }

    #[test]
    fn an_unobserved_generation_is_in_progress() {
        let health = health(deployment(
            3,
            json!({
                "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                "readyReplicas": 3, "availableReplicas": 3,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "GenerationNotObserved"));
        assert_eq!(
            health.message,
            "generation 2 not observed yet (last observed: 1)"
        );
    }

    #[test]
    fn a_stalled_condition_is_failed_with_its_reason() {
        let health = health(custom(json!({"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "True", "reason": "QuotaExceeded", "message": "no room"},
        ]})));
        assert_eq!(verdict_of(&health), (Failed, "QuotaExceeded"));
        assert_eq!(health.message, "no room");
    }

    #[test]
    fn a_failed_condition_is_failed_and_without_a_reason_names_the_type() {
        let health = health(custom(
            json!({"conditions": [{"type": "Failed", "status": "True"}]}),
        ));
        assert_eq!(verdict_of(&health), (Failed, "Failed"));
    }

    #[test]
    fn a_reconciling_condition_is_in_progress() {
        let health = health(custom(json!({"conditions": [
            {"type": "Reconciling", "status": "True", "reason": "Applying"},
        ]})));
        assert_eq!(verdict_of(&health), (InProgress, "Applying"));
    }

    #[test]
    fn a_ready_condition_that_is_false_is_failed() {
        let health = health(custom(json!({"conditions": [
            {"type": "Ready", "status": "False", "reason": "BackupFailed", "message": "disk full"},
        ]})));
        assert_eq!(verdict_of(&health), (Failed, "BackupFailed"));
        assert_eq!(health.message, "disk full");
    }

    #[test]
    fn a_synced_condition_that_is_false_is_failed() {
        let health = health(custom(json!({"conditions": [
            {"type": "Synced", "status": "False", "reason": "ReconcileError"},
        ]})));
        assert_eq!(verdict_of(&health), (Failed, "ReconcileError"));
    }

    #[test]
    fn a_ready_condition_that_is_unknown_is_in_progress() {
        let health = health(custom(json!({"conditions": [
            {"type": "Ready", "status": "Unknown", "reason": "Provisioning"},
        ]})));
        assert_eq!(verdict_of(&health), (InProgress, "Provisioning"));
    }

    #[test]
    fn the_worst_ready_like_condition_wins() {
        let health = health(custom(json!({"conditions": [
            {"type": "Available", "status": "Unknown", "reason": "Waiting"},
            {"type": "Healthy", "status": "False", "reason": "ProbeFailed"},
            {"type": "Ready", "status": "False", "reason": "Later"},
        ]})));
        assert_eq!(verdict_of(&health), (Failed, "ProbeFailed"));
    }

    #[test]
    fn a_custom_resource_that_is_ready_is_ready() {
        let health = health(custom(
            json!({"conditions": [{"type": "Ready", "status": "True"}]}),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_config_map_has_no_status_and_is_ready() {
        let health = health(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"a": "b"},
        }));
        assert_eq!(verdict_of(&health), (Ready, ""));
        assert!(health.path.is_empty());
    }

    #[test]
    fn a_custom_resource_without_status_is_ready() {
        let health = health(json!({
            "apiVersion": "example.com/v1", "kind": "Database", "metadata": {"name": "db"},
        }));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_deployment_without_status_is_not_observed_yet() {
        let health = health(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1},
        }));
        assert_eq!(verdict_of(&health), (InProgress, "NotObserved"));
    }

    #[test]
    fn a_deployment_of_another_group_is_judged_by_its_conditions() {
        let health = health(json!({
            "apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "status": {"readyReplicas": 0, "conditions": [
                {"type": "Ready", "status": "False", "reason": "Broken"},
            ]},
        }));
        assert_eq!(verdict_of(&health), (Failed, "Broken"));
    }

    // --- Deployment --------------------------------------------------------

    #[test]
    fn a_deployment_past_its_progress_deadline_is_failed() {
        let health = health(deployment(
            3,
            json!({
                "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2,
                "conditions": [{
                    "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"web-2\" has timed out progressing.",
                }],
            }),
        ));
        assert_eq!(verdict_of(&health), (Failed, "ProgressDeadlineExceeded"));
        assert_eq!(
            health.message,
            "ReplicaSet \"web-2\" has timed out progressing."
        );
    }

    #[test]
    fn a_deployment_with_fewer_ready_replicas_is_in_progress() {
        let health = health(deployment(
            3,
            json!({
                "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 1,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotReady"));
        assert_eq!(health.message, "1 of 3 replicas ready");
    }

    #[test]
    fn a_deployment_mid_rollout_is_in_progress() {
        let health = health(deployment(
            3,
            json!({
                "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotUpdated"));
        assert_eq!(health.message, "1 of 3 replicas updated");
    }

    #[test]
    fn a_deployment_with_old_replicas_still_terminating_is_in_progress() {
        let health = health(deployment(
            3,
            json!({
                "replicas": 5, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ExtraReplicas"));
    }

    #[test]
    fn a_deployment_with_ready_replicas_not_yet_available_is_in_progress() {
        let health = health(deployment(
            2,
            json!({
                "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 0,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotAvailable"));
    }

    #[test]
    fn a_deployment_whose_pods_cannot_be_created_is_failed() {
        let health = health(deployment(
            2,
            json!({
                "conditions": [{
                    "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                    "message": "pods \"web-1\" is forbidden: exceeded quota",
                }],
            }),
        ));
        assert_eq!(verdict_of(&health), (Failed, "FailedCreate"));
    }

    #[test]
    fn a_deployment_with_every_replica_available_is_ready() {
        let health = health(deployment(
            3,
            json!({
                "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                "readyReplicas": 3, "availableReplicas": 3,
            }),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
        assert_eq!(health.message, "3 of 3 replicas ready");
    }

    #[test]
    fn a_deployment_without_spec_replicas_wants_one() {
        let health = health(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "status": {"replicas": 1, "updatedReplicas": 1},
        }));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotReady"));
        assert_eq!(health.message, "0 of 1 replicas ready");
    }

    #[test]
    fn a_deployment_scaled_to_zero_is_ready() {
        let health = health(deployment(0, json!({})));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    // --- StatefulSet -------------------------------------------------------

    #[test]
    fn a_stateful_set_with_fewer_ready_replicas_is_in_progress() {
        let health = health(stateful_set(
            json!({"replicas": 3}),
            json!({
                "replicas": 3, "readyReplicas": 2, "currentReplicas": 3, "updatedReplicas": 3,
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotReady"));
        assert_eq!(health.message, "2 of 3 replicas ready");
    }

    #[test]
    fn a_stateful_set_mid_rollout_is_in_progress() {
        let health = health(stateful_set(
            json!({"replicas": 3}),
            json!({
                "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
                "currentRevision": "db-1", "updateRevision": "db-2",
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotUpdated"));
    }

    #[test]
    fn a_stateful_set_with_revisions_apart_is_in_progress() {
        let health = health(stateful_set(
            json!({"replicas": 3}),
            json!({
                "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
                "currentRevision": "db-1", "updateRevision": "db-2",
            }),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "RevisionNotRolledOut"));
        assert_eq!(
            health.message,
            "replicas at revision db-1, rolling out db-2"
        );
    }

    #[test]
    fn a_stateful_set_at_one_revision_is_ready() {
        let health = health(stateful_set(
            json!({"replicas": 3}),
            json!({
                "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
                "currentRevision": "db-2", "updateRevision": "db-2",
            }),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_stateful_set_updated_down_to_its_partition_is_ready() {
        let health = health(stateful_set(
            json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
            json!({
                "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
                "currentRevision": "db-1", "updateRevision": "db-2",
            }),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_stateful_set_short_of_its_partition_is_in_progress() {
        let health = health(stateful_set(
            json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}}),
            json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 1}),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "PartitionNotRolledOut"));
        assert_eq!(
            health.message,
            "1 of 2 replicas below the partition updated"
        );
    }

    #[test]
    fn a_stateful_set_updated_on_delete_is_ready_with_revisions_apart() {
        let health = health(stateful_set(
            json!({"replicas": 1, "updateStrategy": {"type": "OnDelete"}}),
            json!({
                "replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                "currentRevision": "db-1", "updateRevision": "db-2",
            }),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    // --- ReplicaSet --------------------------------------------------------

    #[test]
    fn a_replica_set_with_fewer_available_replicas_is_in_progress() {
        let health = health(replica_set(json!({
            "replicas": 2, "readyReplicas": 2, "availableReplicas": 1,
        })));
        assert_eq!(verdict_of(&health), (InProgress, "ReplicasNotAvailable"));
        assert_eq!(health.message, "1 of 2 replicas available");
    }

    #[test]
    fn a_replica_set_that_cannot_create_pods_is_failed() {
        let health = health(replica_set(json!({
            "replicas": 0,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota"}],
        })));
        assert_eq!(verdict_of(&health), (Failed, "FailedCreate"));
        assert_eq!(health.message, "quota");
    }

    #[test]
    fn a_replica_set_with_every_replica_available_is_ready() {
        let health = health(replica_set(json!({
            "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
        })));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    // --- DaemonSet ---------------------------------------------------------

    #[test]
    fn a_daemon_set_with_pods_not_ready_is_in_progress() {
        let health = health(daemon_set(json!({
            "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberReady": 2, "numberAvailable": 2,
        })));
        assert_eq!(verdict_of(&health), (InProgress, "PodsNotReady"));
        assert_eq!(health.message, "2 of 3 pods ready");
    }

    #[test]
    fn a_daemon_set_mid_rollout_is_in_progress() {
        let health = health(daemon_set(json!({
            "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 1, "numberReady": 3, "numberAvailable": 3,
        })));
        assert_eq!(verdict_of(&health), (InProgress, "PodsNotUpdated"));
    }

    #[test]
    fn a_daemon_set_with_every_pod_available_is_ready() {
        let health = health(daemon_set(json!({
            "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberReady": 3, "numberAvailable": 3,
        })));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_daemon_set_without_a_desired_number_is_not_observed_yet() {
        let health = health(daemon_set(json!({"numberReady": 0})));
        assert_eq!(verdict_of(&health), (InProgress, "NotObserved"));
    }

    // --- Pod ---------------------------------------------------------------

    #[test]
    fn a_succeeded_pod_is_ready() {
        let health = health(pod(json!({"phase": "Succeeded"})));
        assert_eq!(verdict_of(&health), (Ready, ""));
        assert_eq!(health.message, "completed");
    }

    #[test]
    fn a_failed_pod_is_failed_with_its_reason() {
        let health = health(pod(json!({
            "phase": "Failed", "reason": "Evicted", "message": "low on memory",
        })));
        assert_eq!(verdict_of(&health), (Failed, "Evicted"));
        assert_eq!(health.message, "low on memory");
    }

    #[test]
    fn a_running_ready_pod_is_ready() {
        let health = health(pod(json!({
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        })));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_running_pod_not_ready_is_in_progress() {
        let health = health(pod(json!({
            "phase": "Running",
            "conditions": [{
                "type": "Ready", "status": "False", "reason": "ContainersNotReady",
                "message": "containers with unready status: [web]",
            }],
        })));
        assert_eq!(verdict_of(&health), (InProgress, "PodNotReady"));
        assert_eq!(health.message, "containers with unready status: [web]");
    }

    #[test]
    fn a_crash_looping_pod_is_failed() {
        let health = health(pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "sidecar", "state": {"running": {}}},
                {"name": "web", "state": {"waiting": {
                    "reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container",
                }}},
            ],
        })));
        assert_eq!(verdict_of(&health), (Failed, "CrashLoopBackOff"));
        assert_eq!(
            health.message,
            "container web: back-off 10s restarting failed container"
        );
    }

    #[test]
    fn a_pending_pod_that_cannot_pull_its_image_is_failed() {
        let health = health(pod(json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            ],
        })));
        assert_eq!(verdict_of(&health), (Failed, "ImagePullBackOff"));
        assert_eq!(health.message, "container init: ImagePullBackOff");
    }

    #[test]
    fn a_pod_waiting_for_its_containers_to_start_is_in_progress() {
        let health = health(pod(json!({
            "phase": "Pending",
            "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}],
        })));
        assert_eq!(verdict_of(&health), (InProgress, "ContainerCreating"));
        assert_eq!(health.message, "container web: ContainerCreating");
    }

    #[test]
    fn a_pending_pod_without_waiting_containers_is_in_progress() {
        let health = health(pod(json!({"phase": "Pending"})));
        assert_eq!(verdict_of(&health), (InProgress, "PodPending"));
    }

    #[test]
    fn a_pod_whose_image_is_not_on_the_node_and_may_not_be_pulled_is_failed() {
        let health = health(pod(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "pgbouncer", "state": {"waiting": {
                "reason": "ErrImageNeverPull",
                "message": "Container image \"localhost/pgbouncer:1\" is not present with pull policy of Never",
            }}}],
        })));
        assert_eq!(verdict_of(&health), (Failed, "ErrImageNeverPull"));
        assert_eq!(
            health.message,
            "container pgbouncer: Container image \"localhost/pgbouncer:1\" is not present with pull policy of Never"
        );
    }

    #[test]
    fn an_unschedulable_pod_is_in_progress_with_the_schedulers_reason() {
        let health = health(pod(json!({
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available",
            }],
        })));
        assert_eq!(verdict_of(&health), (InProgress, "Unschedulable"));
        assert_eq!(health.message, "0/1 nodes are available");
    }

    #[test]
    fn a_pod_on_a_silent_node_is_unknown() {
        let health = health(pod(json!({"phase": "Unknown"})));
        assert_eq!(verdict_of(&health), (Unknown, "PodPhaseUnknown"));
    }

    // --- Job ---------------------------------------------------------------

    #[test]
    fn a_complete_job_is_ready() {
        let health = health(job(json!({
            "succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        })));
        assert_eq!(verdict_of(&health), (Ready, ""));
        assert_eq!(health.message, "complete, 1 succeeded");
    }

    #[test]
    fn a_failed_job_is_failed_with_its_reason() {
        let health = health(job(json!({
            "failed": 6, "startTime": "2024-01-01T00:00:00Z",
            "conditions": [{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }],
        })));
        assert_eq!(verdict_of(&health), (Failed, "BackoffLimitExceeded"));
    }

    #[test]
    fn a_job_about_to_fail_is_failed() {
        let health = health(job(json!({
            "startTime": "2024-01-01T00:00:00Z",
            "conditions": [{"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"}],
        })));
        assert_eq!(verdict_of(&health), (Failed, "DeadlineExceeded"));
    }

    #[test]
    fn a_running_job_is_in_progress() {
        let health = health(job(json!({
            "active": 2, "succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
        })));
        assert_eq!(verdict_of(&health), (InProgress, "JobRunning"));
        assert_eq!(health.message, "2 active, 1 succeeded, 0 failed");
    }

    #[test]
    fn a_job_not_started_is_in_progress() {
        let health = health(job(json!({})));
        assert_eq!(verdict_of(&health), (InProgress, "JobNotStarted"));
    }

    #[test]
    fn a_suspended_job_is_ready() {
        let health = health(job(json!({
            "conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended"}],
        })));
        assert_eq!(verdict_of(&health), (Ready, ""));
        assert_eq!(health.message, "suspended");
    }

    // --- volumes -----------------------------------------------------------

    #[test]
    fn a_bound_claim_is_ready() {
        let health = health(core(
            "PersistentVolumeClaim",
            json!({}),
            json!({"phase": "Bound"}),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_lost_claim_is_failed() {
        let health = health(core(
            "PersistentVolumeClaim",
            json!({}),
            json!({"phase": "Lost"}),
        ));
        assert_eq!(verdict_of(&health), (Failed, "ClaimLost"));
    }

    #[test]
    fn a_pending_claim_is_in_progress() {
        let health = health(core(
            "PersistentVolumeClaim",
            json!({}),
            json!({"phase": "Pending"}),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "NotBound"));
    }

    #[test]
    fn a_bound_or_available_volume_is_ready() {
        for phase in ["Bound", "Available"] {
            let health = health(core("PersistentVolume", json!({}), json!({"phase": phase})));
            assert_eq!(verdict_of(&health), (Ready, ""), "{phase}");
        }
    }

    #[test]
    fn a_failed_volume_is_failed() {
        let health = health(core(
            "PersistentVolume",
            json!({}),
            json!({"phase": "Failed", "message": "recycler failed"}),
        ));
        assert_eq!(verdict_of(&health), (Failed, "VolumeFailed"));
        assert_eq!(health.message, "recycler failed");
    }

    // --- Service and PodDisruptionBudget ------------------------------------

    #[test]
    fn a_load_balancer_without_an_address_is_in_progress() {
        let health = health(core(
            "Service",
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": {}}),
        ));
        assert_eq!(verdict_of(&health), (InProgress, "LoadBalancerPending"));
    }

    #[test]
    fn a_load_balancer_without_any_status_is_in_progress() {
        let health = health(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": "LoadBalancer"},
        }));
        assert_eq!(verdict_of(&health), (InProgress, "LoadBalancerPending"));
    }

    #[test]
    fn a_load_balancer_with_an_address_is_ready() {
        let health = health(core(
            "Service",
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}),
        ));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_cluster_ip_service_is_ready() {
        let health = health(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": "ClusterIP"},
        }));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_disruption_budget_with_enough_healthy_pods_is_ready() {
        let health = health(budget(json!({"currentHealthy": 3, "desiredHealthy": 2})));
        assert_eq!(verdict_of(&health), (Ready, ""));
    }

    #[test]
    fn a_disruption_budget_short_of_healthy_pods_is_in_progress() {
        let health = health(budget(json!({"currentHealthy": 1, "desiredHealthy": 2})));
        assert_eq!(verdict_of(&health), (InProgress, "NotEnoughHealthyPods"));
        assert_eq!(health.message, "1 pods healthy, 2 required");
    }

    // --- odd JSON ----------------------------------------------------------

    #[test]
    fn a_string_where_a_count_goes_is_unknown() {
        let health = health(deployment(
            3,
            json!({"replicas": "3", "updatedReplicas": 3}),
        ));
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(
            health.message,
            "status.replicas is a string, not an integer"
        );
    }

    #[test]
    fn a_list_where_the_status_goes_is_unknown() {
        let health = health(json!({
            "apiVersion": "example.com/v1", "kind": "Database", "metadata": {"name": "db"},
            "status": [1, 2],
        }));
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(health.message, "status is a list, not a map");
    }

    #[test]
    fn a_map_where_the_conditions_go_is_unknown() {
        let health = health(custom(json!({"conditions": {"Ready": "True"}})));
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(health.message, "status.conditions is a map, not a list");
    }

    #[test]
    fn a_condition_without_a_status_is_unknown() {
        let health = health(custom(json!({"conditions": [{"type": "Ready"}]})));
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(health.message, "status.conditions[0] has no status");
    }

    #[test]
    fn a_string_where_a_map_goes_on_the_way_is_unknown() {
        let health = health(core(
            "Service",
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": "pending"}),
        ));
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(health.message, "status.loadBalancer is a string, not a map");
    }

    #[test]
    fn odd_json_in_any_kind_never_panics() {
        let kinds = [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("apps/v1", "ReplicaSet"),
            ("apps/v1", "DaemonSet"),
            ("v1", "Pod"),
            ("batch/v1", "Job"),
            ("v1", "PersistentVolumeClaim"),
            ("v1", "PersistentVolume"),
            ("v1", "Service"),
            ("policy/v1", "PodDisruptionBudget"),
            ("example.com/v1", "Database"),
        ];
        let odd = [
            json!("Ready"),
            json!(3),
            json!(true),
            json!([{"type": "Ready"}]),
            json!({"phase": 1, "observedGeneration": "2", "conditions": "Ready"}),
            json!({"conditions": [1, "x", null, [], {"type": 1, "status": "True"}]}),
            json!({"replicas": 1.5, "readyReplicas": [], "availableReplicas": {}}),
            json!({"desiredNumberScheduled": "3", "currentHealthy": -1, "desiredHealthy": 18446744073709551615u64}),
            json!({"phase": "Running", "containerStatuses": {"web": {}}}),
            json!({"phase": "Pending", "containerStatuses": [
                "web", {"state": "waiting"}, {"state": {"waiting": []}}, {"state": {"waiting": {"reason": 7}}},
            ]}),
            json!({"loadBalancer": {"ingress": {"ip": "1.2.3.4"}}, "currentRevision": 1}),
        ];
        let odd_specs = [
            json!("x"),
            json!({"replicas": "3", "type": 1, "updateStrategy": []}),
        ];
        for (api_version, kind) in kinds {
            for status in &odd {
                for spec in &odd_specs {
                    let object = object(json!({
                        "apiVersion": api_version, "kind": kind,
                        "metadata": {"name": "o", "generation": 2},
                        "spec": spec, "status": status,
                    }));
                    let health = of(&object);
                    assert!(health.path.is_empty());
                    assert!(
                        health.status == Unknown
                            || !health.reason.is_empty()
                            || health.status == Ready,
                        "{kind} {status}: {health:?}"
                    );
                }
            }
        }
        // The clearest cases, kind by kind, are Unknown.
        for (api_version, kind) in kinds {
            let object = object(json!({
                "apiVersion": api_version, "kind": kind, "metadata": {"name": "o"},
                "status": "Ready",
            }));
            assert_eq!(of(&object).status, Unknown, "{kind}");
        }
    }

    #[test]
    fn an_object_built_in_code_has_null_data_and_no_status() {
        let resource = kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let object = DynamicObject::new("c", &resource);
        assert_eq!(object.data, Value::Null);
        assert_eq!(verdict_of(&of(&object)), (Ready, ""));
    }

    #[test]
    fn an_object_without_types_and_a_list_for_data_is_unknown() {
        let mut object =
            object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}));
        object.types = None;
        object.data = json!(["not", "a", "map"]);
        let health = of(&object);
        assert_eq!(verdict_of(&health), (Unknown, "UnreadableStatus"));
        assert_eq!(health.message, "the object is a list, not a map");
    }

    // --- roll_up -----------------------------------------------------------

    #[test]
    fn the_worst_health_in_a_tree_wins() {
        let tree = node(
            "Deployment",
            "web",
            Some(Ready),
            vec![
                node("ReplicaSet", "web-1", Some(InProgress), vec![]),
                node("ReplicaSet", "web-2", Some(Failed), vec![]),
                node("ReplicaSet", "web-3", Some(Unknown), vec![]),
            ],
        );
        let health = roll_up(&tree);
        assert_eq!(verdict_of(&health), (Failed, "Failed-web-2"));
        assert_eq!(health.path, ["Deployment/web", "ReplicaSet/web-2"]);
    }

    #[test]
    fn the_path_leads_down_to_a_failing_grandchild() {
        let tree = node(
            "Database",
            "db",
            Some(Ready),
            vec![
                node("Service", "db", Some(Ready), vec![]),
                node(
                    "StatefulSet",
                    "db",
                    Some(InProgress),
                    vec![
                        node("Pod", "db-0", Some(Ready), vec![]),
                        node("Pod", "db-1", Some(Failed), vec![]),
                    ],
                ),
            ],
        );
        let health = roll_up(&tree);
        assert_eq!(verdict_of(&health), (Failed, "Failed-db-1"));
        assert_eq!(health.message, "message of db-1");
        assert_eq!(health.path, ["Database/db", "StatefulSet/db", "Pod/db-1"]);
    }

    #[test]
    fn ties_keep_the_first_in_pre_order() {
        let tree = node(
            "Deployment",
            "web",
            Some(Ready),
            vec![
                node(
                    "ReplicaSet",
                    "web-1",
                    Some(InProgress),
                    vec![node("Pod", "web-1-a", Some(Failed), vec![])],
                ),
                node("ReplicaSet", "web-2", Some(Failed), vec![]),
            ],
        );
        assert_eq!(
            roll_up(&tree).path,
            ["Deployment/web", "ReplicaSet/web-1", "Pod/web-1-a"]
        );

        let tree = node(
            "Deployment",
            "web",
            Some(InProgress),
            vec![node("ReplicaSet", "web-1", Some(InProgress), vec![])],
        );
        assert_eq!(roll_up(&tree).path, ["Deployment/web"]);
    }

    #[test]
    fn a_node_without_health_counts_as_unknown() {
        let tree = node(
            "Deployment",
            "web",
            Some(Ready),
            vec![node("ReplicaSet", "web-1", None, vec![])],
        );
        let health = roll_up(&tree);
        assert_eq!(verdict_of(&health), (Unknown, "NotComputed"));
        assert_eq!(health.path, ["Deployment/web", "ReplicaSet/web-1"]);

        let tree = node(
            "Deployment",
            "web",
            Some(Ready),
            vec![
                node("ReplicaSet", "web-1", None, vec![]),
                node("ReplicaSet", "web-2", Some(InProgress), vec![]),
            ],
        );
        assert_eq!(roll_up(&tree).path, ["Deployment/web", "ReplicaSet/web-2"]);
    }

    #[test]
    fn a_ready_tree_points_at_its_root() {
        let tree = node(
            "Deployment",
            "web",
            Some(Ready),
            vec![node("ReplicaSet", "web-1", Some(Ready), vec![])],
        );
        let health = roll_up(&tree);
        assert_eq!(verdict_of(&health), (Ready, "Ready-web"));
        assert_eq!(health.path, ["Deployment/web"]);
    }

    #[test]
    fn a_failing_child_makes_the_primary_failed_with_the_right_path() {
        let primary = object(custom(
            json!({"conditions": [{"type": "Ready", "status": "True"}]}),
        ));
        let child = object(json!({
            "apiVersion": "example.com/v1", "kind": "Backup", "metadata": {"name": "nightly"},
            "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "UploadFailed", "message": "bucket gone"},
            ]},
        }));
        let mut tree = node(
            "Database",
            "db",
            None,
            vec![node("Backup", "nightly", None, vec![])],
        );
        tree.health = Some(of(&primary));
        tree.children[0].health = Some(of(&child));
        let health = roll_up(&tree);
        assert_eq!(verdict_of(&health), (Failed, "UploadFailed"));
        assert_eq!(health.message, "bucket gone");
        assert_eq!(health.path, ["Database/db", "Backup/nightly"]);
    }

    // --- fixtures ----------------------------------------------------------

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).expect("a DynamicObject")
    }

    fn health(value: Value) -> Health {
        of(&object(value))
    }

    fn verdict_of(health: &Health) -> (HealthStatus, &str) {
        (health.status, health.reason.as_str())
    }

    /// A custom resource with `status`.
    fn custom(status: Value) -> Value {
        json!({
            "apiVersion": "example.com/v1", "kind": "Database",
            "metadata": {"name": "db", "generation": 1},
            "status": status,
        })
    }

    /// A core/v1 object of `kind` with `spec` and `status`.
    fn core(kind: &str, spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": kind, "metadata": {"name": "o"},
            "spec": spec, "status": status,
        })
    }

    /// A Deployment at generation 2 that wants `replicas`.
    fn deployment(replicas: i64, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "progressDeadlineSeconds": 600},
            "status": status,
        })
    }

    fn stateful_set(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": spec, "status": status,
        })
    }

    /// A ReplicaSet that wants two replicas.
    fn replica_set(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1"},
            "spec": {"replicas": 2}, "status": status,
        })
    }

    fn daemon_set(status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "generation": 1},
            "status": status,
        })
    }

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"},
            "status": status,
        })
    }

    fn job(status: Value) -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
            "status": status,
        })
    }

    fn budget(status: Value) -> Value {
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
            "status": status,
        })
    }

    /// A tree node whose health (if any) has reason `<Status>-<name>` and
    /// message `message of <name>`.
    fn node(
        kind: &str,
        name: &str,
        status: Option<HealthStatus>,
        children: Vec<TreeNode>,
    ) -> TreeNode {
        TreeNode {
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            namespace: Some("ns".to_string()),
            name: name.to_string(),
            link: None,
            health: status.map(|status| Health {
                status,
                reason: format!("{}-{name}", status.as_str()),
                message: format!("message of {name}"),
                path: Vec::new(),
            }),
            children,
        }
    }
}
