//! SIGTERM: readiness fails first, then the server stops accepting, lets the
//! requests in flight finish, and exits.
//!
//! Starts second extension servers of their own (the registered one keeps
//! serving the other tests), so it needs the local control plane.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

    // Then /readyz fails within a moment (the signal reaches the server's
    // handler asynchronously), while the listener still answers
    let signalled = Instant::now();
    let status = loop {
        match readyz().await {
            Err(kube::Error::Api(status)) => break status,
            Ok(_) if signalled.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("expected a 503 within 1 s of SIGTERM, got {other:?}"),
        }
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

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn a_request_in_flight_when_sigterm_arrives_still_completes() -> anyhow::Result<()> {
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

    // Given a kube-apiserver that answers as slowly as the test says: a
    // forwarder to the real one, which holds what is sent upstream while slow
    let kubeconfig = std::fs::read_to_string(control_plane.join("extension-server.kubeconfig"))?;
    let upstream = apiserver_address(&kubeconfig)?;
    let slow = Arc::new(AtomicBool::new(false));
    let forwarder = slow_forwarder(upstream, slow.clone(), Duration::from_secs(3)).await?;
    let dir = std::env::temp_dir().join(format!("primary-all-in-flight-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("kubeconfig"),
        kubeconfig.replace(
            &format!("server: https://{upstream}"),
            &format!("server: https://127.0.0.1:{forwarder}"),
        ),
    )?;

    // And a second extension server that talks to it, with a short delay
    // before its listener closes and a long drain
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = tokio::process::Command::new(&binary)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .arg(format!("--bind-address=127.0.0.1:{port}"))
        .arg(format!(
            "--tls-cert-file={}",
            pki.join("extension-serving.crt").display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            pki.join("extension-serving.key").display()
        ))
        .args(["--shutdown-delay-seconds=1", "--drain-seconds=15"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut config = kube::Config::new(format!("https://127.0.0.1:{port}").parse()?);
    config.root_cert_file = Some(server_ca.clone());
    config.default_retry = false;
    let probe = kube::Client::try_from(config)?;
    let started = Instant::now();
    while !matches!(
        probe
            .request_text(http::Request::get("/readyz").body(Vec::new())?)
            .await
            .as_deref(),
        Ok("ok")
    ) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // And kube-apiserver's front proxy, as it calls the server for the admin
    let mut config = kube::Config::new(format!("https://127.0.0.1:{port}").parse()?);
    config.root_cert_file = Some(server_ca);
    config.auth_info.client_certificate =
        Some(pki.join("front-proxy-client.crt").display().to_string());
    config.auth_info.client_key = Some(pki.join("front-proxy-client.key").display().to_string());
    config.default_retry = false;
    let front_proxy = kube::Client::try_from(config)?;

    // When a request is in flight, held up by the slow kube-apiserver
    slow.store(true, Ordering::SeqCst);
    let sent = Instant::now();
    let request = tokio::spawn(async move {
        let request = http::Request::get("/apis/primary-all/v1/core/v1/Namespace/kube-system")
            .header("X-Remote-User", "admin")
            .header("X-Remote-Group", "system:masters")
            .body(kube::client::Body::empty())?;
        let response = front_proxy.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect_bytes().await?;
        anyhow::Ok((status, body, sent.elapsed()))
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!request.is_finished(), "the request was not held up");

    // And SIGTERM arrives
    let pid = Pid::from_raw(server.id().expect("the server is running") as i32);
    kill(pid, Signal::SIGTERM)?;
    let sigterm = Instant::now();

    // Then the listener closes while the request is still in flight
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        anyhow::ensure!(
            sigterm.elapsed() < Duration::from_secs(5),
            "the listener was still open 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if request.is_finished() {
        let outcome = request.await?;
        panic!(
            "the request finished before the listener closed, which proves nothing: {outcome:?}"
        );
    }

    // And the request still completes, with 200 and the primary
    let (status, body, took) = tokio::time::timeout(Duration::from_secs(15), request).await???;
    eprintln!(
        "measured: the request took {:.1}s and finished {:.1}s after SIGTERM",
        took.as_secs_f64(),
        sigterm.elapsed().as_secs_f64()
    );
    assert_eq!(
        status,
        http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let answer: primary_all::wire::PrimaryWithSecondaries = serde_json::from_slice(&body)?;
    assert_eq!(
        answer.prim_res.metadata.name.as_deref(),
        Some("kube-system")
    );

    // And the server then exits cleanly
    let exit = tokio::time::timeout(Duration::from_secs(15), server.wait()).await??;
    assert!(exit.success(), "the server exited with {exit}");

    std::fs::remove_dir_all(dir)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Setup: a slow kube-apiserver.
// ---------------------------------------------------------------------------

/// The `host:port` of the `server:` line of a kubeconfig on loopback.
fn apiserver_address(kubeconfig: &str) -> anyhow::Result<SocketAddr> {
    let server = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: https://"))
        .ok_or_else(|| anyhow::anyhow!("the kubeconfig names no https server"))?;
    Ok(server.trim().parse()?)
}

/// A TCP forwarder on loopback to `upstream` that, while `slow` is set,
/// holds every chunk sent upstream for `delay` (TLS passes through as it is).
/// Returns its port; it forwards until the test's runtime ends.
async fn slow_forwarder(
    upstream: SocketAddr,
    slow: Arc<AtomicBool>,
    delay: Duration,
) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let slow = slow.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_upstream, mut to_upstream) = outbound.into_split();
                let up = async {
                    let mut buffer = vec![0u8; 16 * 1024];
                    loop {
                        let n = from_client.read(&mut buffer).await?;
                        if n == 0 {
                            break;
                        }
                        if slow.load(Ordering::SeqCst) {
                            tokio::time::sleep(delay).await;
                        }
                        to_upstream.write_all(&buffer[..n]).await?;
                    }
                    to_upstream.shutdown().await
                };
                let down = tokio::io::copy(&mut from_upstream, &mut to_client);
                let _ = tokio::join!(up, down);
            });
        }
    });
    Ok(port)
}
