//! `kubectl primary-all`, run as a real process against a real cluster: what
//! people see on their terminal and what scripts read from a pipe.
//!
//! Run with
//!
//! ```not_rust
//! cargo xtask test        # boots the control plane and registers the server
//! # or, with a cluster already up:
//! KUBECONFIG=$PWD/target/control-plane/kubeconfig \
//!   cargo test -p kubectl-primary-all -- --ignored
//! ```

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::ObjectMeta;
use kube::api::PostParams;
use kube_test_utils::fixtures::{Database, DatabaseSpec};
use primary_all::wire::{OwnerChain, PrimaryWithSecondaries};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The plugin binary cargo built for these tests. It inherits `KUBECONFIG`
/// from the test's environment, as it would from a person's shell.
fn kubectl_primary_all() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-primary_all"));
    command.kill_on_drop(true);
    command
}

/// A Database `name` in `ns`.
fn database(name: &str, owner: Option<&Database>) -> Database {
    let mut database = Database::new(
        name,
        DatabaseSpec {
            engine: "postgres".to_string(),
            replicas: None,
        },
    );
    database.metadata.owner_references = owner.map(|o| vec![owned_by(o)]);
    database
}

fn owned_by(owner: &Database) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Database",
        "name": owner.metadata.name, "uid": owner.metadata.uid,
        "controller": true, "blockOwnerDeletion": true
    }))
    .expect("a valid ownerReference")
}

fn config_map(name: &str, owner: &Database) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            owner_references: Some(vec![owned_by(owner)]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

fn labelled_secret(name: &str, primary: &Database) -> Secret {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": { "primary-all/primary-uid": primary.metadata.uid }
        },
        "stringData": { "password": "not-a-real-password" }
    }))
    .expect("a valid Secret")
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn get_prints_a_database_and_everything_below_it_as_a_tree() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-tree").await?;
    let ns = namespace.name();
    let databases: Api<Database> = Api::namespaced(client.clone(), ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    // Given a Database with a ConfigMap it owns and a Secret labelled for it
    let db = databases
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    config_maps
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &labelled_secret("db-1-credentials", &db),
        )
        .await?;
    // And a replica Database it owns, which owns a ConfigMap of its own
    let replica = databases
        .create(&PostParams::default(), &database("db-1-replica", Some(&db)))
        .await?;
    config_maps
        .create(
            &PostParams::default(),
            &config_map("db-1-replica-config", &replica),
        )
        .await?;

    // When the plugin is asked for the Database, its output going to a pipe
    let output = kubectl_primary_all()
        .args(["get", "database/db-1", "-n", ns])
        .output()
        .await?;

    // Then it succeeds and prints the tree, two levels deep, without colour
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no escapes on a pipe: {stdout:?}"
    );
    insta::assert_snapshot!(stdout);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn get_o_json_prints_the_servers_answer() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-json").await?;
    let ns = namespace.name();

    // Given a Database that owns a ConfigMap
    let db = Api::<Database>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;

    // When it is asked for with -o json, by its plural and group
    let output = kubectl_primary_all()
        .args([
            "get",
            "databases.example.com",
            "db-1",
            "-n",
            ns,
            "-o",
            "json",
        ])
        .output()
        .await?;

    // Then stdout is a PrimaryWithSecondaries with the tree asked for
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: PrimaryWithSecondaries = serde_json::from_slice(&output.stdout)?;
    assert_eq!(answer.kind, "PrimaryWithSecondaries");
    assert_eq!(answer.prim_res.metadata.uid, db.metadata.uid);
    assert_eq!(answer.depth, 3);
    let tree = answer.tree.expect("the plugin asks for view=tree");
    let children: Vec<&str> = tree.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(children, ["db-1-config"]);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn a_missing_object_prints_kubectls_error_and_exits_1() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-missing").await?;
    let ns = namespace.name();

    // Given a namespace without a Database db-9
    // When the plugin is asked for it
    let output = kubectl_primary_all()
        .args(["get", "database/db-9", "-n", ns])
        .output()
        .await?;

    // Then it exits 1, prints nothing on stdout, and kubectl's error on stderr
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr)?.replace(ns, "[namespace]");
    insta::assert_snapshot!(stderr, @r#"Error from server (NotFound): databases.example.com "db-9" not found"#);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn owners_climbs_from_a_leaf_to_the_database() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-owners").await?;
    let ns = namespace.name();
    let databases: Api<Database> = Api::namespaced(client.clone(), ns);

    // Given a Database that owns a replica Database that owns a ConfigMap
    let db = databases
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    let replica = databases
        .create(&PostParams::default(), &database("db-1-replica", Some(&db)))
        .await?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &config_map("db-1-replica-config", &replica),
        )
        .await?;

    // When the plugin is asked for the ConfigMap's owners
    let output = kubectl_primary_all()
        .args(["owners", "configmap/db-1-replica-config", "-n", ns])
        .output()
        .await?;

    // Then the chain runs from the Database down to the ConfigMap
    let stdout = String::from_utf8(output.stdout)?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    insta::assert_snapshot!(stdout);

    // And -o json is the server's OwnerChain, nearest owner first
    let output = kubectl_primary_all()
        .args([
            "owners",
            "configmap",
            "db-1-replica-config",
            "-n",
            ns,
            "-o",
            "json",
        ])
        .output()
        .await?;
    let chain: OwnerChain = serde_json::from_slice(&output.stdout)?;
    let owners: Vec<&str> = chain.owners.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(owners, ["db-1-replica", "db-1"]);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn toplevel_lists_what_nothing_owns() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-toplevel").await?;
    let ns = namespace.name();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    // Given a Database that owns a ConfigMap, and a ConfigMap nobody owns
    let db = Api::<Database>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    config_maps
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;
    let stranger = ConfigMap {
        metadata: ObjectMeta {
            name: Some("unrelated".to_string()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    config_maps
        .create(&PostParams::default(), &stranger)
        .await?;

    // When the plugin lists the namespace's top-level objects
    let output = kubectl_primary_all()
        .args(["toplevel", "-n", ns])
        .output()
        .await?;

    // Then the Database and the stranger are rows, and the owned ConfigMap is not
    let stdout = String::from_utf8(output.stdout)?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    insta::assert_snapshot!(stdout);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn a_user_who_may_not_read_secrets_sees_them_left_out() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-rbac").await?;
    let ns = namespace.name();

    // Given a Database with a ConfigMap it owns and a Secret labelled for it
    let db = Api::<Database>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &labelled_secret("db-1-credentials", &db),
        )
        .await?;

    // And a user, ann, who may read Databases and ConfigMaps here, and ask
    // primary-all for databases.example.com, but may not read Secrets
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "database-reader" },
        "rules": [
            { "apiGroups": ["example.com"], "resources": ["databases"], "verbs": ["get", "list"] },
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"] },
            { "apiGroups": ["primary-all"], "resources": ["databases.example.com"], "verbs": ["get"] }
        ]
    }))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "ann-reads-databases" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "database-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ann" }]
    }))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await?;

    // When ann asks for the Database (the admin impersonating her with --as)
    let output = kubectl_primary_all()
        .args(["get", "databases.example.com/db-1", "-n", ns, "--as", "ann"])
        .output()
        .await?;

    // Then she sees the ConfigMap, and the Secrets are named as left out
    let stdout = String::from_utf8(output.stdout)?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("db-1-credentials"), "{stdout}");
    assert!(
        stdout.contains("left out: secrets (Forbidden: "),
        "{stdout}"
    );
    insta::assert_snapshot!(stdout);

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn watch_prints_the_tree_again_when_something_below_changes() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-watch").await?;
    let ns = namespace.name();

    // Given a Database that owns a ConfigMap
    let db = Api::<Database>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;

    // And the plugin watching it, its output going to a pipe
    let mut child = kubectl_primary_all()
        .args(["get", "database/db-1", "-n", ns, "--watch"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut seen = String::new();
    let first_render = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("db-1-config") {
                return anyhow::Ok(());
            }
        }
        anyhow::bail!("the plugin stopped before its first render")
    })
    .await;
    assert!(
        matches!(first_render, Ok(Ok(()))),
        "{first_render:?}: {seen}"
    );

    // When the Database gets a second ConfigMap
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map("db-1-extra", &db))
        .await?;

    // Then a second render follows, with the new ConfigMap in it
    let second_render = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("db-1-extra") {
                return anyhow::Ok(());
            }
        }
        anyhow::bail!("the plugin stopped before a second render")
    })
    .await;
    assert!(
        matches!(second_render, Ok(Ok(()))),
        "{second_render:?}: {seen}"
    );
    assert_eq!(seen.matches("NAME ").count(), 2, "two renders: {seen}");
    child.kill().await?;

    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs a cluster with primary-all: cargo xtask test"]
async fn colours_appear_on_a_terminal_and_not_on_a_pipe() -> anyhow::Result<()> {
    kube_test_utils::init_tracing();
    let client = kube_test_utils::client().await?;
    kube_test_utils::install_database_crd(&client).await?;
    let namespace = kube_test_utils::TestNamespace::create(&client, "plugin-colour").await?;
    let ns = namespace.name();
    let tmux = std::path::Path::new("/usr/bin/tmux");
    let tmux = if tmux.exists() {
        tmux.to_path_buf()
    } else {
        which("tmux").expect(
            "this test runs the plugin on a real terminal with tmux, which is not installed: \
             apt-get install tmux",
        )
    };

    // Given a Database that owns a ConfigMap
    let db = Api::<Database>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &database("db-1", None))
        .await?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &config_map("db-1-config", &db))
        .await?;

    // When the plugin runs in a 120×40 tmux window (a tmux server of this
    // test's own, so a user's sessions are never touched), without NO_COLOR
    let socket = format!("primary-all-plugin-{}", std::process::id());
    let kubeconfig = std::env::var("KUBECONFIG")?;
    let plugin = env!("CARGO_BIN_EXE_kubectl-primary_all");
    let script =
        format!("env -u NO_COLOR '{plugin}' get database/db-1 -n {ns}; echo '<done>'; sleep 60");
    let started = Command::new(&tmux)
        .args(["-L", &socket, "new-session", "-d", "-x", "120", "-y", "40"])
        .args(["-e", &format!("KUBECONFIG={kubeconfig}")])
        .arg(&script)
        .status()
        .await?;
    assert!(started.success(), "tmux new-session failed");
    let mut screen = String::new();
    for _ in 0..100 {
        let capture = Command::new(&tmux)
            .args(["-L", &socket, "capture-pane", "-p", "-e"])
            .output()
            .await?;
        screen = String::from_utf8(capture.stdout)?;
        if screen.contains("<done>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Command::new(&tmux)
        .args(["-L", &socket, "kill-server"])
        .status()
        .await;

    // Then the terminal shows the tree with the health words in colour
    assert!(screen.contains("db-1-config"), "{screen}");
    assert!(
        screen.contains("\u{1b}["),
        "escapes on a terminal: {screen:?}"
    );

    // And the same command on a pipe prints no escape at all
    let output = kubectl_primary_all()
        .args(["get", "database/db-1", "-n", ns])
        .env_remove("NO_COLOR")
        .output()
        .await?;
    let piped = String::from_utf8(output.stdout)?;
    assert!(piped.contains("db-1-config"), "{piped}");
    assert!(!piped.contains('\u{1b}'), "no escapes on a pipe: {piped:?}");

    namespace.delete().await?;
    Ok(())
}

/// `tmux` on PATH, for machines that keep it elsewhere than /usr/bin.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.exists())
}
