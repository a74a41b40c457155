//! The README's five-minute start, built as a crate of its own: the exact
//! `Cargo.toml` lines and `src/main.rs` it shows, with `primary-all` by
//! path, so that the snippet cannot rot. Then `cargo doc` of primary-all as
//! that crate's dependency, with and without `etcd-status`.
//!
//! Run with
//!
//! ```not_rust
//! cargo test -p primary-all --test dependent_crate   # offline; minutes when cold
//! ```
//!
//! No cluster is needed: the binary is built, not run. It builds in
//! `target/tmp/dependent-crate` with a target directory of its own (the
//! outer `cargo test` holds the workspace's), which stays warm between runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The body of the one fence in `markdown` that opens with `opening`.
fn fence<'a>(markdown: &'a str, opening: &str) -> &'a str {
    let starts: Vec<usize> = markdown
        .match_indices(&format!("\n{opening}\n"))
        .map(|(at, _)| at + opening.len() + 2)
        .collect();
    assert_eq!(starts.len(), 1, "the README has one {opening} fence");
    let body = &markdown[starts[0]..];
    &body[..body.find("\n```\n").expect("the fence is closed") + 1]
}

fn cargo(dir: &Path, args: &[&str], rustdocflags: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir)
        .args(args)
        .args(["--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    match rustdocflags {
        Some(flags) => cmd.env("RUSTDOCFLAGS", flags),
        None => cmd.env_remove("RUSTDOCFLAGS"),
    };
    cmd.output().expect("cargo runs")
}

fn assert_success(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_readme_snippet_builds_as_a_crate_of_its_own() {
    let poc = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(poc.join("README.md")).unwrap();

    // Given the README's Cargo.toml lines, with primary-all taken by path
    let dependencies = fence(&readme, "```toml");
    let published = "primary-all = \"0.1\"\n";
    assert_eq!(
        dependencies.matches(published).count(),
        1,
        "the README names primary-all as a newcomer writes it:\n{dependencies}"
    );
    let by_path = format!(
        "primary-all = {{ version = \"0.1\", path = {:?} }}\n",
        poc.display().to_string()
    );
    let manifest = format!(
        "[package]\nname = \"operator-quickstart\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
         publish = false\n\n# Not a member of primary-all's workspace.\n[workspace]\n\n{}",
        dependencies.replace(published, &by_path)
    );

    // And its main.rs
    let main = fence(&readme, "```rust,no_run");
    assert!(main.contains("async fn main()"), "{main}");

    // And the crate docs, which are the README itself
    let lib = std::fs::read_to_string(poc.join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![doc = include_str!(\"../README.md\")]"));

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dependent-crate");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    // The workspace's lock, so that --offline finds every version cached.
    std::fs::copy(poc.join("../Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // When it is built, offline
    let built = cargo(&dir, &["build"], None);

    // Then it builds
    assert_success(&built, "cargo build of the README's crate");
    assert!(dir.join("target/debug/operator-quickstart").exists());

    // And primary-all documents as its dependency, warnings denied, with
    // and without etcd-status (whose items appear only with it)
    let docs = dir.join("target/doc/primary_all");
    for (features, has_status_items) in [
        (&[][..], false),
        (&["--features", "primary-all/etcd-status"][..], true),
    ] {
        let _ = std::fs::remove_dir_all(&docs);
        let mut args = vec![
            "doc",
            "--no-deps",
            "-p",
            "operator-quickstart",
            "-p",
            "primary-all",
        ];
        args.extend(features);
        let documented = cargo(&dir, &args, Some("-D warnings"));
        assert_success(&documented, &format!("cargo {}", args.join(" ")));
        assert!(docs.join("trait.GetLatestWithSecondariesExt.html").exists());
        assert_eq!(
            docs.join("fn.store_secondaries_in_status.html").exists(),
            has_status_items,
            "cargo {}",
            args.join(" ")
        );
    }
}
