//! The `extension-server` binary: primary-all's aggregated API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use extension_server::{AppState, Strategy, app, authn, discovery, tls};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// primary-all's aggregated API server: a primary with all its secondaries,
/// through kube-apiserver.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    bind_address: SocketAddr,
    /// The serving certificate (PEM; its SANs must include
    /// primary-all.primary-all.svc, the name kube-apiserver dials).
    #[arg(long)]
    tls_cert_file: PathBuf,
    /// The serving certificate's private key (PEM).
    #[arg(long)]
    tls_private_key_file: PathBuf,
    /// How secondaries are found.
    #[arg(long, value_enum, default_value = "indexed")]
    strategy: Strategy,
    /// Seconds between /readyz turning false on SIGTERM and the listener closing.
    #[arg(long, default_value_t = 2)]
    shutdown_delay_seconds: u64,
    /// Seconds in-flight requests get to finish after the listener closes.
    #[arg(long, default_value_t = 20)]
    drain_seconds: u64,
    /// Seconds a primary request may take before it is answered 503 (with
    /// etcd away, kube-apiserver holds a quorum read for up to a minute).
    #[arg(long, default_value_t = extension_server::DEFAULT_REQUEST_TIMEOUT.as_secs())]
    request_timeout_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                format!(
                    "{}=info,tower_http=info,kube=warn",
                    env!("CARGO_CRATE_NAME")
                )
                .into()
            }),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    let args = Args::parse();
    let tls_config = tls::server_config(&args.tls_cert_file, &args.tls_private_key_file)?;
    let client = kube::Client::try_default()
        .await
        .context("failed to configure a client for kube-apiserver (KUBECONFIG or in-cluster)")?;
    let mut state = AppState::new(client.clone(), args.strategy);
    state.request_timeout = Duration::from_secs(args.request_timeout_seconds);

    // Background work: the request-header CA, and discovery.
    tokio::spawn(authn::watch_configmap(
        client.clone(),
        state.authenticator.clone(),
    ));
    tokio::spawn(extension_server::rules::watch_configmap(
        client.clone(),
        state.rules.clone(),
    ));
    let discovery = state.discovery.clone();
    let index = state.index.clone();
    tokio::spawn(async move {
        // Discovery first (retried), then every 30 s, or sooner when a watch
        // finds its kind gone or a CRD or APIService changes (then again at
        // each of FOLLOW_UPS); the watch cache, when there is one, follows
        // each new catalog (a CRD added or removed).
        let mut backoff = Duration::from_millis(200);
        let mut follow_ups: &[Duration] = &[];
        loop {
            let refreshed = tokio::time::Instant::now();
            match discovery.refresh().await {
                Ok(catalog) => {
                    if let Some(index) = &index {
                        index.follow(&catalog);
                    }
                    backoff = match follow_ups.split_first() {
                        Some((next, rest)) => {
                            follow_ups = rest;
                            *next
                        }
                        None => discovery::REFRESH_EVERY,
                    };
                }
                Err(err) => {
                    tracing::warn!(error = %err, "discovery failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
            let kinds_changed = async {
                match &index {
                    Some(index) => index.kinds_changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = kinds_changed => {
                    follow_ups = &discovery::FOLLOW_UPS;
                    // Rate-limited like a refresh forced by a request.
                    tokio::time::sleep_until(refreshed + discovery::MIN_FORCED_REFRESH).await;
                }
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(args.bind_address)
        .await
        .with_context(|| format!("failed to listen on {}", args.bind_address))?;
    tracing::info!(address = %listener.local_addr()?, strategy = ?args.strategy, "serving");

    let serving = state.serving.clone();
    let delay = Duration::from_secs(args.shutdown_delay_seconds);
    let shutdown = async move {
        shutdown_signal().await;
        // Readiness fails first, so kube-apiserver (or a Service) stops
        // sending new requests before the listener goes away.
        serving.store(false, Ordering::SeqCst);
        tracing::info!(delay = ?delay, "shutting down: /readyz now fails");
        tokio::time::sleep(delay).await;
    };
    tls::serve(
        listener,
        tls_config,
        app(state),
        shutdown,
        Duration::from_secs(args.drain_seconds),
    )
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
