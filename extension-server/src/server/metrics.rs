//! Prometheus metrics, served at `/metrics`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The label set of `primary_all_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The HTTP status code.
    pub code: u16,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Requests answered on the primary routes, by code.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds to answer a primary route.
    pub duration: Histogram,
    /// API calls to kube-apiserver per answered primary route.
    pub api_calls: Histogram,
    /// API calls to kube-apiserver in total, for exact per-request deltas.
    pub api_calls_total: Counter,
    /// Objects in the watch cache's index (`--strategy=indexed`).
    pub indexed_objects: Gauge,
    /// Watched kinds whose watch has not listed them (syncing or failing).
    pub unsynced_kinds: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Histogram::new([
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        let api_calls = Histogram::new([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
        let api_calls_total = Counter::default();
        let indexed_objects = Gauge::default();
        let unsynced_kinds = Gauge::default();
        let mut registry = Registry::with_prefix("primary_all");
        registry.register(
            "requests",
            "Requests on the primary routes, by HTTP code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Seconds to answer a primary route",
            duration.clone(),
        );
        registry.register(
            "api_calls_per_request",
            "kube-apiserver calls made to answer one primary route",
            api_calls.clone(),
        );
        registry.register(
            "api_calls",
            "kube-apiserver calls made for primary routes",
            api_calls_total.clone(),
        );
        registry.register(
            "indexed_objects",
            "Objects in the watch cache's index",
            indexed_objects.clone(),
        );
        registry.register(
            "unsynced_kinds",
            "Watched kinds not synced: answers read them directly or name them as left out",
            unsynced_kinds.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            duration,
            api_calls,
            api_calls_total,
            indexed_objects,
            unsynced_kinds,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_exposition() {
        let metrics = Metrics::default();
        metrics
            .requests
            .get_or_create(&RequestLabels { code: 404 })
            .inc();
        metrics.api_calls.observe(3.0);
        let text = metrics.encode();
        assert!(
            text.contains("primary_all_requests_total{code=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("primary_all_api_calls_per_request_count 1"),
            "{text}"
        );
    }
}
