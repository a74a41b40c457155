//! Bounds on what one client can hold of the server: a connection that
//! sends its headers slowly, or sits idle, is closed; watch streams are
//! capped per caller; a watch ends at `timeoutSeconds` even when its reader
//! never reads.
//!
//! These tests talk to the extension server straight (only the local
//! control plane publishes its address), as kube-apiserver's front proxy
//! does: over TLS, with the front-proxy client certificate where the
//! request must get past authentication.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # passes the server's address and CA
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server's address and the folder of the local control plane's PKI.
fn server() -> anyhow::Result<(String, std::path::PathBuf)> {
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER").map_err(|_| {
        anyhow::anyhow!(
            "PRIMARY_ALL_EXTENSION_SERVER is not set: this test calls the server directly, \
             which `cargo xtask test` arranges for the local control plane"
        )
    })?;
    let ca = std::path::PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);
    let pki = ca
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no directory", ca.display()))?
        .to_path_buf();
    let address = url.trim_start_matches("https://").to_string();
    Ok((address, pki))
}

/// A TLS connection to the server, with the front-proxy client certificate.
/// (Plumbing only: the tests below write and read the bytes themselves.)
async fn connect(
    address: &str,
    pki: &std::path::Path,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.join("extension-ca.crt"))? {
        roots.add(cert?)?;
    }
    let certs = CertificateDer::pem_file_iter(pki.join("front-proxy-client.crt"))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(pki.join("front-proxy-client.key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)?;
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    // A Pod's address is in no certificate; the Service's name is.
    let name = std::env::var("PRIMARY_ALL_EXTENSION_TLS_NAME").unwrap_or("localhost".into());
    Ok(connector.connect(ServerName::try_from(name)?, tcp).await?)
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn a_connection_that_sends_its_headers_slowly_is_closed() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let (address, pki) = server()?;

    // Given a connection that sends half a request's headers, then nothing
    let mut connection = connect(&address, &pki).await?;
    connection
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await?;
    connection.flush().await?;
    let sent = Instant::now();

    // Then the server closes it within its header-read timeout (10 s), plus margin
    let mut buffer = [0_u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(20), connection.read(&mut buffer)).await;
    let closed_after = sent.elapsed();
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => {}
        Err(_) => anyhow::bail!("the connection was still open after 20 s"),
    }
    eprintln!(
        "measured: a connection with half its headers was closed after {:.1}s",
        closed_after.as_secs_f64()
    );
    assert!(closed_after >= Duration::from_secs(5), "{closed_after:?}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn an_idle_connection_is_closed() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let (address, pki) = server()?;

    // Given a connection that made one request, kept alive, and then waits
    let mut connection = connect(&address, &pki).await?;
    connection
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut buffer = [0_u8; 4096];
    let read = connection.read(&mut buffer).await?;
    let answer = String::from_utf8_lossy(&buffer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle_since = Instant::now();

    // Then the server closes it within its idle timeout (10 s), plus margin
    let read = tokio::time::timeout(Duration::from_secs(20), connection.read(&mut buffer)).await;
    anyhow::ensure!(
        read.is_ok(),
        "the idle connection was still open after 20 s"
    );
    eprintln!(
        "measured: an idle connection was closed after {:.1}s",
        idle_since.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn one_caller_may_hold_sixteen_watches_and_a_stalled_one_ends_on_time() -> anyhow::Result<()>
{
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Api;
    use kube::api::PostParams;

    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "watch-cap").await?;
    let ns = namespace.name();
    let (address, pki) = server()?;

    // Given a ConfigMap to watch
    let settings: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "settings" }
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &settings)
        .await?;
    let watch = |seconds: u32| {
        format!(
            "GET /apis/primary-all/v1/namespaces/{ns}/configmaps?watch=true\
             &fieldSelector=metadata.name%3Dsettings&timeoutSeconds={seconds} HTTP/1.1\r\n\
             Host: localhost\r\nX-Remote-User: watch-cap-user\r\nX-Remote-Group: system:masters\r\n\r\n"
        )
    };

    // When one caller opens sixteen watches of three seconds, and reads
    // nothing more than each one's status line
    let mut open = Vec::new();
    for _ in 0..16 {
        let mut connection = connect(&address, &pki).await?;
        connection.write_all(watch(3).as_bytes()).await?;
        let mut buffer = [0_u8; 64];
        let read = connection.read(&mut buffer).await?;
        let head = String::from_utf8_lossy(&buffer[..read]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        open.push(connection);
    }
    let opened = Instant::now();

    // Then a seventeenth is refused with 429 and a Status
    let mut seventeenth = connect(&address, &pki).await?;
    seventeenth.write_all(watch(3).as_bytes()).await?;
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let read = seventeenth.read(&mut buffer).await?;
    answer.extend_from_slice(&buffer[..read]);
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("TooManyRequests"), "{answer}");

    // And once their timeoutSeconds passed, although nobody read them,
    // their places are free again: a new watch is accepted
    tokio::time::sleep(
        Duration::from_secs(3).saturating_sub(opened.elapsed()) + Duration::from_secs(1),
    )
    .await;
    let mut again = connect(&address, &pki).await?;
    again.write_all(watch(1).as_bytes()).await?;
    let read = again.read(&mut buffer).await?;
    let head = String::from_utf8_lossy(&buffer[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    drop(open);
    namespace.delete().await?;
    Ok(())
}
