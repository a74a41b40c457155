//! Authentication and authorization attacks: only kube-apiserver's front
//! proxy gets in, and nobody is shown what they could not read themselves.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # these call the server straight, too
//! ```

use std::path::PathBuf;

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};
use serde_json::json;

/// GETs `path` with `client` and decodes the answer.
async fn get_raw(client: &kube::Client, path: &str) -> Result<serde_json::Value, kube::Error> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .expect("a valid request");
    client.request::<serde_json::Value>(request).await
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn a_certificate_from_another_ca_gets_401_whatever_the_headers_claim() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER")?;
    let server_ca = PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);

    // Given an attacker's own CA, and a client certificate from it that even
    // carries the allowed front-proxy name
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "attacker-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let attacker_ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "front-proxy-client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &attacker_ca)?;
    let dir = std::env::temp_dir().join(format!("primary-all-attacker-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("client.crt"), cert.pem())?;
    std::fs::write(dir.join("client.key"), key.serialize_pem())?;

    // When it calls the server straight, claiming to be the cluster admin
    let mut config = kube::Config::new(url.parse()?);
    // A Pod's address is in no certificate; the Service's name is.
    config.tls_server_name = std::env::var("PRIMARY_ALL_EXTENSION_TLS_NAME").ok();
    config.root_cert_file = Some(server_ca);
    config.auth_info.client_certificate = Some(dir.join("client.crt").display().to_string());
    config.auth_info.client_key = Some(dir.join("client.key").display().to_string());
    let attacker = kube::Client::try_from(config)?;
    let request = http::Request::get("/apis/primary-all/v1/core/v1/Namespace/kube-system")
        .header("X-Remote-User", "admin")
        .header("X-Remote-Group", "system:masters")
        .body(Vec::new())?;
    let err = attacker
        .request::<serde_json::Value>(request)
        .await
        .unwrap_err();

    // Then the answer is 401, and says the certificate was rejected
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 401);
    assert!(
        status.message.contains("client certificate rejected"),
        "{}",
        status.message
    );

    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the local control plane's extension server: cargo xtask test"]
async fn the_front_proxy_ca_with_a_name_that_is_not_allowed_gets_401() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let url = std::env::var("PRIMARY_ALL_EXTENSION_SERVER")?;
    let server_ca = PathBuf::from(std::env::var("PRIMARY_ALL_EXTENSION_CA")?);
    let pki = server_ca.parent().unwrap().to_path_buf();

    // Given a client certificate signed by the real front-proxy CA, for "mallory"
    // (the issuer is named as `cargo xtask cluster up` names that CA)
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "primary-all-front-proxy-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let front_proxy_ca = Issuer::new(
        ca_params,
        KeyPair::from_pem(&std::fs::read_to_string(pki.join("front-proxy-ca.key"))?)?,
    );
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mallory");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &front_proxy_ca)?;
    let dir = std::env::temp_dir().join(format!("primary-all-mallory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("client.crt"), cert.pem())?;
    std::fs::write(dir.join("client.key"), key.serialize_pem())?;

    // When mallory calls the server straight, as the admin
    let mut config = kube::Config::new(url.parse()?);
    // A Pod's address is in no certificate; the Service's name is.
    config.tls_server_name = std::env::var("PRIMARY_ALL_EXTENSION_TLS_NAME").ok();
    config.root_cert_file = Some(server_ca);
    config.auth_info.client_certificate = Some(dir.join("client.crt").display().to_string());
    config.auth_info.client_key = Some(dir.join("client.key").display().to_string());
    let mallory = kube::Client::try_from(config)?;
    let request = http::Request::get("/apis/primary-all/v1/core/v1/Namespace/kube-system")
        .header("X-Remote-User", "admin")
        .header("X-Remote-Group", "system:masters")
        .body(Vec::new())?;
    let err = mallory
        .request::<serde_json::Value>(request)
        .await
        .unwrap_err();

    // Then the answer is 401, naming the CN that is not allowed
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!(status.code, 401);
    assert!(status.message.contains("\"mallory\""), "{}", status.message);

    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn a_user_with_no_rights_at_all_is_forbidden() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "no-rights").await?;
    let ns = namespace.name();

    // Given a user, nobody, bound to nothing
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = Some("nobody".to_string());
    let nobody = kube::Client::try_from(config)?;

    // When nobody asks for a Database by either route
    let namespaced = get_raw(
        &nobody,
        &format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-1"),
    )
    .await;
    let thesis = get_raw(
        &nobody,
        &format!("/apis/primary-all/v1/example.com/v1/Database/{ns}/db-1"),
    )
    .await;

    // Then kube-apiserver refuses both before the server is asked
    for answer in [namespaced, thesis] {
        let Err(kube::Error::Api(status)) = answer else {
            panic!("expected a Status, got {answer:?}")
        };
        assert_eq!(status.code, 403);
        assert!(
            status
                .message
                .contains("User \"nobody\" cannot get resource"),
            "{}",
            status.message
        );
    }

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn rights_in_one_namespace_do_not_reach_another() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let home = kube_test_utils::TestNamespace::create(&client, "home").await?;
    let other = kube_test_utils::TestNamespace::create(&client, "other").await?;
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );

    // Given a Database in another namespace
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-5" }, "spec": { "engine": "postgres" }
    }))?;
    Api::<DynamicObject>::namespaced_with(client.clone(), other.name(), &database_resource)
        .create(&PostParams::default(), &database)
        .await?;

    // And a user, carol, who may read Databases and use the route at home only
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "database-reader" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["databases.example.com"], "verbs": ["get"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), home.name())
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "carol-reads-databases" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "database-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), home.name())
        .create(&PostParams::default(), &binding)
        .await?;
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = Some("carol".to_string());
    let carol = kube::Client::try_from(config)?;

    // When carol asks for the Database in the other namespace
    let answer = get_raw(
        &carol,
        &format!(
            "/apis/primary-all/v1/namespaces/{}/databases.example.com/db-5",
            other.name()
        ),
    )
    .await;

    // Then she is refused, and the answer holds nothing of it
    let Err(kube::Error::Api(status)) = answer else {
        panic!("expected a Status, got {answer:?}")
    };
    assert_eq!(status.code, 403);
    assert!(!status.message.contains("postgres"), "{}", status.message);

    home.delete().await?;
    other.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster: cargo xtask test"]
async fn the_route_without_rights_on_the_primary_is_forbidden_by_the_server() -> anyhow::Result<()>
{
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "route-only").await?;
    let ns = namespace.name();
    let database_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Database"),
        "databases",
    );

    // Given a Database
    let database: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "metadata": { "name": "db-6" }, "spec": { "engine": "postgres" }
    }))?;
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &database_resource)
        .create(&PostParams::default(), &database)
        .await?;

    // And a user, dave, who may use the route but not read Databases
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "route-only" },
        "rules": [{ "apiGroups": ["primary-all"], "resources": ["databases.example.com"], "verbs": ["get"] }]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "dave-uses-the-route" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "route-only" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dave" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;
    let mut config = kube::Config::infer().await?;
    config.auth_info.impersonate = Some("dave".to_string());
    let dave = kube::Client::try_from(config)?;

    // When dave asks for the Database through the route he may use
    let answer = get_raw(
        &dave,
        &format!("/apis/primary-all/v1/namespaces/{ns}/databases.example.com/db-6"),
    )
    .await;

    // Then the extension server refuses, in kube-apiserver's words, and shows nothing of it
    let Err(kube::Error::Api(status)) = answer else {
        panic!("expected a Status, got {answer:?}")
    };
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        format!(
            "databases.example.com \"db-6\" is forbidden: User \"dave\" cannot get resource \
             \"databases\" in API group \"example.com\" in the namespace \"{ns}\""
        )
    );

    namespace.delete().await?;
    Ok(())
}
