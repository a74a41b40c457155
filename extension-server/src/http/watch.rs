//! `?watch=true` on a primary route: a new answer whenever it changes.
//!
//! A person watching a Database roll out wants to see its Pods turn ready
//! without asking again every two seconds. The server already watches every
//! kind for its index, so it knows when an object in an answer (or a new
//! child of one) changes: the handler waits for such a change, lets a burst
//! settle, answers again, and sends the answer when it differs from the last
//! one. The stream is newline-delimited JSON watch events, as kube-apiserver
//! sends them (`{"type": "ADDED" | "MODIFIED" | "ERROR", "object": …}`), and
//! ends after `timeoutSeconds` (default five minutes), on shutdown, or when
//! the caller goes away; clients reconnect, as they do for any watch.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use primary_all::wire::PrimaryWithSecondaries;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::answer::{self, Params, PrimaryRef};
use crate::auth::authn::UserInfo;
use crate::cluster::index::Change;
use crate::error::{AppError, StatusBody};
use crate::http::routes::Routes;

/// How long a watch lasts when the caller names no `timeoutSeconds`.
pub const DEFAULT_WATCH_SECONDS: u32 = 300;
/// How long a burst of changes may settle before the answer is computed
/// again: a rollout changes many objects within milliseconds.
pub const SETTLE: Duration = Duration::from_millis(250);
/// The most watches the server streams at once.
pub const MAX_WATCHES: usize = 256;
/// The most watches one caller (by user name) has open at once.
pub const MAX_WATCHES_PER_USER: usize = 16;

/// Counts open watches, in total and per caller, so that neither one
/// caller nor all of them together can open streams without bound.
#[derive(Debug, Default)]
pub struct WatchLimits {
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// An open watch; dropping it frees its place.
#[derive(Debug)]
pub struct WatchSlot {
    limits: std::sync::Arc<WatchLimits>,
    user: String,
}

impl WatchLimits {
    /// Takes a place for `user`'s watch.
    ///
    /// # Errors
    ///
    /// 429 when the caller, or the server, has as many open as it may.
    pub fn open(self: &std::sync::Arc<Self>, user: &str) -> Result<WatchSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        let mine = open.get(user).copied().unwrap_or_default();
        if mine >= MAX_WATCHES_PER_USER {
            return Err(AppError::TooManyRequests(format!(
                "User \"{user}\" has {mine} watches open, the most one caller may; close one or try again later"
            )));
        }
        if total >= MAX_WATCHES {
            return Err(AppError::TooManyRequests(format!(
                "the server streams {total} watches, the most it may; try again later"
            )));
        }
        *open.entry(user.to_string()).or_default() += 1;
        Ok(WatchSlot {
            limits: self.clone(),
            user: user.to_string(),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// Streams `wanted`'s answer: once at once, then on every change.
///
/// # Errors
///
/// Before the stream starts, as for a primary route; and 400 without the
/// watch index (`--strategy=indexed`), which is what tells of changes.
pub async fn stream(
    state: &Routes,
    user: UserInfo,
    wanted: PrimaryRef,
    params: Params,
) -> Result<Response, AppError> {
    let Some(index) = state.context.finder.index().cloned() else {
        return Err(AppError::BadRequest(
            "watch=true needs the server's watch index (--strategy=indexed)".to_string(),
        ));
    };
    let slot = state.watches.open(&user.name)?;
    // Subscribed before the first answer, so no change falls in between.
    let mut changes = index.subscribe();
    let first = answer::primary(&state.context, &user, &wanted, &params)
        .await?
        .body;
    let seconds = params.timeout_seconds.unwrap_or(DEFAULT_WATCH_SECONDS);
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds));

    let (tx, mut rx) = mpsc::channel::<Bytes>(4);
    let state = state.clone();
    tokio::spawn(async move {
        // The place is held until the stream ends, whatever ends it.
        let _slot = slot;
        // Every send is bounded by the deadline too: a caller that stops
        // reading cannot keep this task, or its place, past timeoutSeconds.
        let mut uids = uids_of(&first);
        let mut last = serde_json::to_value(&first).unwrap_or_default();
        if !send_until(&tx, deadline, event("ADDED", &first)).await {
            return;
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                () = tx.closed() => return,
                // SIGTERM: watches end before the drain instead of holding it open.
                () = state.shutdown.cancelled() => return,
                more = relevant(&mut changes, &uids) => if !more { return },
            }
            tokio::time::sleep(SETTLE).await;
            while changes.try_recv().is_ok() {}
            match answer::primary(&state.context, &user, &wanted, &params).await {
                Ok(answered) => {
                    let next = answered.body;
                    let value = serde_json::to_value(&next).unwrap_or_default();
                    if value != last {
                        uids = uids_of(&next);
                        last = value;
                        if !send_until(&tx, deadline, event("MODIFIED", &next)).await {
                            return;
                        }
                    }
                }
                Err(err) => {
                    send_until(&tx, deadline, event("ERROR", &StatusBody::failure(&err))).await;
                    return;
                }
            }
        }
    });
    let body = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|line| line.map(Ok::<_, Infallible>))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Sends one line, unless the deadline passes first (a caller that stopped
/// reading); `false` when the line was not sent.
async fn send_until(tx: &mpsc::Sender<Bytes>, deadline: Instant, line: Bytes) -> bool {
    matches!(
        tokio::time::timeout_at(deadline, tx.send(line)).await,
        Ok(Ok(()))
    )
}

/// Waits for a change that touches the answer: an object in it, or a new
/// child of one. `false` when the index is gone (the server is stopping).
async fn relevant(changes: &mut broadcast::Receiver<Change>, uids: &HashSet<String>) -> bool {
    loop {
        match changes.recv().await {
            Ok(change) if change.touches(uids) => return true,
            Ok(_) => continue,
            // Missed some: one of them may have mattered.
            Err(broadcast::error::RecvError::Lagged(_)) => return true,
            Err(broadcast::error::RecvError::Closed) => return false,
        }
    }
}

/// The uids of the primary and every secondary in `answer`.
fn uids_of(answer: &PrimaryWithSecondaries) -> HashSet<String> {
    std::iter::once(&answer.prim_res)
        .chain(&answer.sec_res.items)
        .filter_map(|o| o.metadata.uid.clone())
        .collect()
}

/// A watch event, `type` first as kube-apiserver writes it.
#[derive(serde::Serialize)]
struct WatchEvent<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a T,
}

/// One line of the stream.
fn event(kind: &str, object: &impl serde::Serialize) -> Bytes {
    let mut line = serde_json::to_vec(&WatchEvent { kind, object }).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}
