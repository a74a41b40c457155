//! The owners route: from any object up to the highest-level one above it.
//!
//! A Pod is owned by a ReplicaSet, the ReplicaSet by a Deployment, the
//! Deployment by a Database; the chain is walked upward one read at a time
//! (ownerReferences name their owner, so no search is needed), and where an
//! object has no ownerReference but the `primary-all/primary-uid` label, the
//! watch index turns that uid into the primary it names.
//!
//! Every object on the chain must be one the caller may `get`: the chain
//! stops below the first that is not, and names its kind as left out, so a
//! caller learns that something owns the object, never what.

use kube::api::DynamicObject;
use primary_all::PRIMARY_UID_LABEL;
use primary_all::wire::{LeftOut, LeftOutReason, ObjectRef, OwnerChain};

use crate::answer::{Context, Params, PrimaryRef, locate};
use crate::auth::authn::UserInfo;
use crate::auth::authz;
use crate::cluster::discovery::Kind;
use crate::error::AppError;

/// The longest chain followed: real ones have two or three links, and a
/// bound keeps an ownership cycle (which the garbage collector permits
/// while it resolves it) from looping.
pub const MAX_CHAIN: usize = 16;

/// Answers an owners route for `user`.
///
/// # Errors
///
/// As for a primary route: 400, 403 when the caller may not read the object
/// itself, 404 for an unknown kind or object, 503 when kube-apiserver cannot
/// be reached.
pub async fn answer(
    state: &Context,
    user: &UserInfo,
    wanted: &PrimaryRef,
    params: &Params,
) -> Result<OwnerChain, AppError> {
    let located = locate::locate(state, user, wanted, params).await?;
    let catalog = located.catalog;
    let mut current = located.object;

    let object = ObjectRef::of(&current, None);
    let mut owners = Vec::new();
    let mut left_out = Vec::new();
    while owners.len() < MAX_CHAIN {
        let Some(next) = next_owner(state, &catalog, &current) else {
            break;
        };
        let Owner {
            kind: owner_kind,
            namespace: owner_namespace,
            name: owner_name,
            link,
        } = match next {
            Ok(next) => next,
            Err(left) => {
                left_out.push(left);
                break;
            }
        };
        // An owner named by an ownerReference the caller can read is an
        // object the caller has named: `get` by name decides. One found by
        // the primary-uid label was named by the index, not by the caller:
        // it is a disclosure, and `list` (or `get` by resourceNames) decides.
        let allowed = match link {
            "label" => {
                let names = std::collections::BTreeSet::from([owner_name.clone()]);
                state
                    .authorizer
                    .shown(user, &owner_kind, owner_namespace.as_deref(), &names)
                    .await
                    .map(|(shown, _)| shown.includes(&owner_name))
            }
            _ => state
                .authorizer
                .can_get(user, &owner_kind, owner_namespace.as_deref(), &owner_name)
                .await
                .map(|decision| decision.allowed),
        }
        .map_err(|e| AppError::from_kube("failed to authorize the caller", e))?;
        if !allowed {
            left_out.push(authz::forbidden_left_out(
                user,
                &owner_kind,
                owner_namespace.as_deref(),
            ));
            break;
        }
        let read = crate::cluster::read::one(
            &state.client,
            &owner_kind,
            owner_namespace.as_deref(),
            &owner_name,
        )
        .await;
        let owner = match read {
            Ok(Some(owner)) => owner,
            // A dangling reference: the garbage collector is about to
            // delete the object below. The chain ends here, and says so.
            Ok(None) | Err(crate::cluster::read::ReadError::Invalid(_)) => {
                left_out.push(LeftOut::new(
                    &owner_kind.resource,
                    owner_namespace.as_deref(),
                    LeftOutReason::Failed,
                    format!(
                        "{} \"{owner_name}\" is referenced but does not exist",
                        owner_kind.qualified_resource()
                    ),
                ));
                break;
            }
            Err(crate::cluster::read::ReadError::Kube(err)) => {
                return Err(AppError::from_kube(
                    format!(
                        "failed to read {} {owner_name:?}",
                        owner_kind.qualified_resource()
                    ),
                    err,
                ));
            }
        };
        owners.push(ObjectRef::of(&owner, Some(link)));
        current = owner;
    }
    Ok(OwnerChain {
        api_version: primary_all::wire::API_VERSION.to_string(),
        kind: primary_all::wire::OWNER_CHAIN_KIND.to_string(),
        object,
        owners,
        left_out,
    })
}

/// The next link of a chain, before it is read.
struct Owner {
    kind: Kind,
    namespace: Option<String>,
    name: String,
    /// `ownerReference` or `label`.
    link: &'static str,
}

/// The owner to follow from `object`: its controller ownerReference (else
/// its first), else the primary its `primary-uid` label names. `None` at the
/// top; `Err` when the owner cannot be found (its kind is not served, or the
/// label's uid is unknown to the index).
fn next_owner(
    state: &Context,
    catalog: &crate::cluster::discovery::Catalog,
    object: &DynamicObject,
) -> Option<Result<Owner, LeftOut>> {
    let references = object
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default();
    let reference = references
        .iter()
        .find(|r| r.controller == Some(true))
        .or_else(|| references.first());
    if let Some(reference) = reference {
        let Some(kind) = catalog.by_api_version(&reference.api_version, &reference.kind) else {
            return Some(Err(LeftOut {
                group: primary_all::wire::group_of(&reference.api_version).to_string(),
                version: primary_all::wire::version_of(&reference.api_version).to_string(),
                kind: reference.kind.clone(),
                resource: String::new(),
                namespace: object.metadata.namespace.clone(),
                reason: LeftOutReason::Failed,
                message: format!(
                    "the owner's kind {} {} is not served by this cluster",
                    reference.api_version, reference.kind
                ),
            }));
        };
        // An owner is in its object's namespace, or cluster-scoped.
        let namespace = object
            .metadata
            .namespace
            .clone()
            .filter(|_| kind.is_namespaced());
        return Some(Ok(Owner {
            kind,
            namespace,
            name: reference.name.clone(),
            link: "ownerReference",
        }));
    }
    let uid = object.metadata.labels.as_ref()?.get(PRIMARY_UID_LABEL)?;
    let found = state.finder.index().and_then(|index| {
        // The graph's guard is dropped before the kinds are read: the
        // index's lock order (see `index`) never holds the graph while
        // taking the kinds.
        let entry = index.graph().get(uid).cloned()?;
        let kind = index.kind(&entry.kind)?;
        Some((kind, entry.namespace, entry.name))
    });
    Some(match found {
        Some((kind, namespace, name)) => Ok(Owner {
            kind,
            namespace,
            name,
            link: "label",
        }),
        None => Err(LeftOut {
            group: String::new(),
            version: String::new(),
            kind: String::new(),
            resource: String::new(),
            namespace: object.metadata.namespace.clone(),
            reason: LeftOutReason::Failed,
            message: match state.finder.index() {
                Some(_) => {
                    format!("the label {PRIMARY_UID_LABEL}={uid} names no object the server knows")
                }
                None => format!(
                    "the label {PRIMARY_UID_LABEL}={uid} can only be followed with the \
                     server's watch index (--strategy=indexed)"
                ),
            },
        }),
    })
}

/// Whether the object an ambiguous owners path names is of a cluster-scoped
/// kind (then the path asks for its owners).
///
/// # Errors
///
/// As [`answer()`] when the kind cannot be resolved.
pub async fn is_cluster_scoped(state: &Context, wanted: &PrimaryRef) -> Result<bool, AppError> {
    let mut api_calls = 0;
    let catalog = locate::catalog(state, &mut api_calls).await?;
    let (kind, _) = locate::resolve(state, catalog, wanted, &mut api_calls).await?;
    Ok(!kind.is_namespaced())
}
