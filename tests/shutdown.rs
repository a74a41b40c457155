//! SIGTERM: readiness fails first, then the server stops accepting and exits.
//!
//! Starts a second extension server of its own (the registered one keeps
//! serving the other tests), so it needs the local control plane.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn on_sigterm_readiness_fails_first_then_the_server_exits_cleanly() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let binary = PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_BINARY").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_EXTENSION_BINARY is not set: this test starts a server of its own, \
             which `cargo xtask test` arranges for the local control plane"
        )
    })?);
    let server_ca = PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);
    let pki = server_ca.parent().unwrap().to_path_buf();
    let control_plane = pki.parent().unwrap().to_path_buf();

    // Given a second extension server on a free loopback port
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = tokio::process::Command::new(&binary)
        .env(
            "KUBECONFIG",
            control_plane.join("extension-server.kubeconfig"),
        )
        .arg(format!("--bind-address=127.0.0.1:{port}"))
        .arg(format!(
            "--tls-cert-file={}",
            pki.join("extension-serving.crt").display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            pki.join("extension-serving.key").display()
        ))
        .args(["--shutdown-delay-seconds=2", "--drain-seconds=5"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut config = kube::Config::new(format!("https://127.0.0.1:{port}").parse()?);
    config.root_cert_file = Some(server_ca);
    config.default_retry = false;
    let probe = kube::Client::try_from(config)?;
    let readyz = || async {
        probe
            .request_text(http::Request::get("/readyz").body(Vec::new()).unwrap())
            .await
    };

    // And it is ready (request-header CA loaded, watches synced)
    let started = Instant::now();
    while !matches!(readyz().await.as_deref(), Ok("ok")) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // When it receives SIGTERM
    let pid = Pid::from_raw(server.id().expect("the server is running") as i32);
    kill(pid, Signal::SIGTERM)?;

    // Then /readyz fails at once, while the listener still answers
    let answer = readyz().await;
    let Err(kube::Error::Api(status)) = answer else {
        panic!("expected a 503, got {answer:?}")
    };
    assert_eq!(status.code, 503);
    assert!(
        status.message.contains("shutting down"),
        "{}",
        status.message
    );

    // And the process exits cleanly within the delay and the drain
    let exit = tokio::time::timeout(Duration::from_secs(15), server.wait()).await??;
    assert!(exit.success(), "the server exited with {exit}");

    // And nothing listens on its port any more
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}
