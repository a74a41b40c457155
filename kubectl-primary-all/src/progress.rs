//! A spinner on stderr for slow requests, so that a wait does not look like
//! a hang.
//!
//! It appears only after [`DELAY`] (most answers come sooner, and a flash of
//! spinner is noise) and only when stderr is a terminal (never in a pipe or
//! a log), and it is cleared before anything is printed.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a request may take before the spinner shows.
pub const DELAY: Duration = Duration::from_millis(300);

/// Awaits `work`; if it takes longer than [`DELAY`] and stderr is a
/// terminal, shows `waiting for {what}…` with a spinner until it is done.
pub async fn while_waiting<T>(what: &str, work: impl Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    tokio::select! {
        done = &mut work => return done,
        () = tokio::time::sleep(DELAY) => {}
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(format!("waiting for {what}…"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let done = work.await;
    spinner.finish_and_clear();
    done
}
