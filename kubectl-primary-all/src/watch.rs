//! `get --watch`: show the answer again each time the server says it changed.
//!
//! The server drives this (a stream of watch events, first ADDED, then
//! MODIFIED), never a polling loop here: an unchanged tree costs nothing,
//! and a change shows as soon as the server sees it. The stream ends after
//! the server's time bound, and then it is opened again.

use std::io::Write;
use std::time::Duration;

use futures::TryStreamExt;
use kube::core::WatchEvent;

use crate::api::{self, Api};
use crate::output::{self, Format};
use crate::progress;
use primary_all::wire::PrimaryWithSecondaries;

/// How long to wait before reopening a stream that ended without a single
/// event, so that a server that closes at once is not asked in a hot loop.
const REOPEN_DELAY: Duration = Duration::from_secs(1);

/// Watches `kind`/`name` and prints every answer until the server fails,
/// the output is closed, or the user stops it.
///
/// # Errors
///
/// The server's errors, as for a single `get`; [`api::Error::Decode`] when
/// the server does not stream (one that predates `watch=true`).
pub async fn run(
    api: &Api,
    kind: &str,
    name: &str,
    query: &str,
    format: Format,
    terminal: bool,
) -> anyhow::Result<()> {
    let mut renders = 0usize;
    loop {
        let events = progress::while_waiting(
            &format!("{kind}/{name}"),
            api.watch_primary(kind, name, query),
        )
        .await?;
        futures::pin_mut!(events);
        let mut received = false;
        while let Some(event) = events.try_next().await.map_err(not_streaming)? {
            received = true;
            let answer = match event {
                WatchEvent::Added(answer) | WatchEvent::Modified(answer) => answer,
                WatchEvent::Error(status) => return Err(api::Error::Server(status).into()),
                WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => continue,
            };
            let text = output::format::<PrimaryWithSecondaries>(&answer, format)?;
            let mut screen = String::new();
            if terminal {
                // Home and clear, as `watch` does: the new tree replaces
                // the old one instead of scrolling it away.
                screen.push_str("\u{1b}[H\u{1b}[2J");
            } else if renders > 0 {
                screen.push('\n');
            }
            screen.push_str(&text);
            if terminal {
                screen.push_str(&format!(
                    "\nWatching {kind}/{name} (changes seen: {renders}). Ctrl-C to stop.\n"
                ));
            }
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(screen.as_bytes())?;
            stdout.flush()?;
            renders += 1;
        }
        if !received {
            tokio::time::sleep(REOPEN_DELAY).await;
        }
    }
}

/// A line that is not a watch event means the server answered with a plain
/// object: it does not know `watch=true`.
fn not_streaming(err: api::Error) -> anyhow::Error {
    match err {
        api::Error::Decode(e) => anyhow::anyhow!(
            "error: the server does not stream changes ({e}); --watch needs a newer primary-all"
        ),
        other => other.into(),
    }
}
