//! API calls as kube-apiserver counts them, not as the server tallies them.
//!
//! Two FlowSchemas of API Priority and Fairness sort the requests of the
//! extension server's ServiceAccount and of the benchmark's users into flows
//! of their own; kube-apiserver's `apiserver_flowcontrol_dispatched_requests_total`
//! then counts, per FlowSchema, every request it let through: the server's
//! reads, its SubjectAccessReviews, the peer tools' discovery and LISTs.
//! Both FlowSchemas go to the built-in `workload-high` priority level, so
//! classifying them changes nothing about how they are served.

use anyhow::{Context, Result};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

use super::caller::VIEWERS;
use crate::install;

/// The FlowSchema of the extension server's ServiceAccount.
pub const SERVER_FLOW: &str = "primary-all-bench-server";
/// The FlowSchema of the benchmark's users.
pub const CALLER_FLOW: &str = "primary-all-bench-callers";

/// Creates (or updates) both FlowSchemas.
pub async fn classify(admin: &kube::Client) -> Result<()> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"),
        "flowschemas",
    );
    let api: Api<DynamicObject> = Api::all_with(admin.clone(), &resource);
    let server = json!({"kind": "ServiceAccount",
        "serviceAccount": {"name": "primary-all", "namespace": install::NAMESPACE}});
    let callers = json!({"kind": "Group", "group": {"name": VIEWERS}});
    for (name, subject) in [(SERVER_FLOW, server), (CALLER_FLOW, callers)] {
        let schema: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": name, "labels": {"primary-all/bench": "true"}},
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-high"},
                // Before the built-in service-accounts (9000) and
                // global-default (9900) schemas, after the system ones.
                "matchingPrecedence": 800,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": [subject],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                       "clusterScope": true, "namespaces": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
                }]
            }
        }))?;
        api.patch(
            name,
            &PatchParams::apply("primary-all-bench").force(),
            &Patch::Apply(&schema),
        )
        .await
        .with_context(|| format!("failed to apply the FlowSchema {name}"))?;
    }
    Ok(())
}

/// What kube-apiserver has dispatched so far, per FlowSchema.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dispatched {
    /// Requests of the extension server's ServiceAccount.
    pub server: f64,
    /// Requests of the benchmark's users.
    pub callers: f64,
}

impl std::ops::Sub for Dispatched {
    type Output = Dispatched;
    fn sub(self, earlier: Dispatched) -> Dispatched {
        Dispatched {
            server: self.server - earlier.server,
            callers: self.callers - earlier.callers,
        }
    }
}

/// Scrapes kube-apiserver's `/metrics` (as the admin, whose requests are
/// exempt and counted in neither flow).
pub async fn dispatched(admin: &kube::Client) -> Result<Dispatched> {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await
        .context("failed to read kube-apiserver's /metrics")?;
    Ok(Dispatched {
        server: sum(&text, SERVER_FLOW),
        callers: sum(&text, CALLER_FLOW),
    })
}

/// The sum of `apiserver_flowcontrol_dispatched_requests_total` over every
/// sample of one FlowSchema (one per priority level it ever used).
fn sum(exposition: &str, flow_schema: &str) -> f64 {
    let label = format!("flow_schema=\"{flow_schema}\"");
    exposition
        .lines()
        .filter(|line| line.starts_with("apiserver_flowcontrol_dispatched_requests_total{"))
        .filter(|line| line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_requests_are_summed_per_flow_schema() {
        let exposition = "\
# HELP apiserver_flowcontrol_dispatched_requests_total [BETA] Number of requests executed by API Priority and Fairness subsystem
# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"primary-all-bench-server\",priority_level=\"workload-high\"} 41
apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"primary-all-bench-server\",priority_level=\"global-default\"} 1
apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"primary-all-bench-servers\",priority_level=\"workload-high\"} 1000
apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"exempt\",priority_level=\"exempt\"} 7
apiserver_flowcontrol_current_executing_requests{flow_schema=\"primary-all-bench-server\",priority_level=\"workload-high\"} 3
";
        assert_eq!(sum(exposition, SERVER_FLOW), 42.0);
        assert_eq!(sum(exposition, CALLER_FLOW), 0.0);
        assert_eq!(sum(exposition, "exempt"), 7.0);
    }
}
