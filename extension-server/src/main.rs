//! The `extension-server` binary: primary-all's aggregated API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use extension_server::find::Strategy;
use extension_server::server::background::Background;
use extension_server::server::{self, AppState, app, tls};
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
    /// etcd away, kube-apiserver holds a consistent read for up to a minute).
    #[arg(long, default_value_t = server::DEFAULT_REQUEST_TIMEOUT.as_secs())]
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
    state.routes.request_timeout = Duration::from_secs(args.request_timeout_seconds);

    // Background work (the request-header CA, the rules, discovery), whose
    // end stops the server.
    let mut background = Background::start(state.context(), &state.authenticator);

    let listener = tokio::net::TcpListener::bind(args.bind_address)
        .await
        .with_context(|| format!("failed to listen on {}", args.bind_address))?;
    tracing::info!(address = %listener.local_addr()?, strategy = ?args.strategy, "serving");

    let shutting_down = state.routes.shutdown.clone();
    let delay = Duration::from_secs(args.shutdown_delay_seconds);
    let shutdown = async move {
        shutdown_signal().await;
        // Readiness fails first, so kube-apiserver (or a Service) stops
        // sending new requests before the listener goes away.
        shutting_down.cancel();
        tracing::info!(delay = ?delay, "shutting down: /readyz now fails");
        tokio::time::sleep(delay).await;
    };
    let served = tls::serve(
        listener,
        tls_config,
        app(state),
        shutdown,
        Duration::from_secs(args.drain_seconds),
    );
    tokio::select! {
        served = served => served,
        failed = background.failed() => {
            tracing::error!(reason = %failed, "background work stopped; exiting");
            anyhow::bail!("{failed}")
        }
    }
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
