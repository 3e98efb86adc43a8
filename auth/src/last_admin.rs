//! The last-admin rule under concurrency. Counting the admins and then acting lets two
//! removals that each see two admins both go through, and leave none. So every change that
//! removes an active admin (demote, disable, erase) first publishes a
//! [`AuthEvent::LastAdminChecked`] to the one subject `auth.admins`, expecting the last
//! sequence it read there: of two racing removals JetStream stores one, and the other reads
//! again and counts again.
//!
//! The count cannot wait for the winner's change to reach the projection (it is published
//! after the check, and may never be if its own expected version fails), so the check message
//! carries what the count needs: the admins that remain. An active admin in the projection
//! counts when the last check named it among them, or when its row changed after that check
//! (a promotion, say, which the check could not know). The user a check removes is in neither
//! until its change is projected, and its change is published with the version read before
//! the check, so a user changed in between keeps its role and counts again by its version.
//! When the check's own change never follows (the process died between the two), that user
//! is left out of later counts until its row changes: a removal may then be refused that
//! could have passed, never the other way round.

use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use contract::auth::{ADMINS_SUBJECT, AuthEvent};
use contract::streams::AUTH_STREAM;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::PublishError;

/// How often a check that lost a race counts again before answering 409.
const ATTEMPTS: usize = 10;

/// Whether a user row is an admin the rule protects.
pub(crate) fn is_active_admin(role: &str, disabled: bool) -> bool {
    role == contract::auth::Role::Admin.as_str() && !disabled
}

/// Records that removing `user_id` from the active admins leaves one, or refuses with 409. The
/// removal itself must follow, published with the user version read before this call.
pub(crate) async fn check_removal(
    state: &AppState,
    user_id: Uuid,
    by: Option<Uuid>,
) -> Result<(), ApiError> {
    let unavailable = |err: &dyn std::fmt::Display| ApiError::Unavailable(err.to_string());
    let mut stream = state
        .publisher
        .context()
        .get_stream(AUTH_STREAM)
        .await
        .map_err(|err| unavailable(&err))?;
    for _ in 0..ATTEMPTS {
        let (sequence, named) = last_check(&stream).await?;
        // Counting on a projection that holds every change stored so far refuses fewer
        // removals that could pass (an admin promoted a moment ago).
        let head = stream
            .info()
            .await
            .map_err(|err| unavailable(&err))?
            .state
            .last_sequence;
        state.projected(head).await?;
        let admins: Vec<(Uuid, i64)> =
            sqlx::query_as("SELECT id, version FROM users WHERE role = 'admin' AND NOT disabled")
                .fetch_all(&state.pool)
                .await?;
        let remaining: Vec<Uuid> = admins
            .into_iter()
            .filter(|(id, version)| {
                *id != user_id
                    && (named.as_ref().is_none_or(|named| named.contains(id))
                        || u64::try_from(*version).unwrap_or(0) > sequence)
            })
            .map(|(id, _)| id)
            .collect();
        if remaining.is_empty() {
            return Err(ApiError::Conflict(
                "the last admin cannot be demoted, disabled or deleted".to_owned(),
            ));
        }
        let checked = AuthEvent::LastAdminChecked {
            user_id,
            remaining,
            by,
            at: OffsetDateTime::now_utc(),
        };
        match state
            .publisher
            .publish(
                ADMINS_SUBJECT.to_owned(),
                &checked,
                &Uuid::now_v7().to_string(),
                Some(sequence),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(PublishError::Conflict) => {
                tracing::debug!(%user_id, "another admin removal went first, counting again");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict(
        "admins changed concurrently, try again".to_owned(),
    ))
}

/// The sequence of the last check on `auth.admins` (0 when there is none) and the admins it
/// named as remaining (`None`: no check yet, every active admin counts). Read from the stream
/// leader, so a check is never based on a replica that lags.
async fn last_check(stream: &Stream) -> Result<(u64, Option<Vec<Uuid>>), ApiError> {
    match stream.get_last_raw_message_by_subject(ADMINS_SUBJECT).await {
        Ok(message) => {
            let named = match serde_json::from_slice(&message.payload) {
                Ok(AuthEvent::LastAdminChecked { remaining, .. }) => remaining,
                // Only checks are published here; anything else names nobody, which can only
                // refuse a removal, never let the last admin go.
                _ => Vec::new(),
            };
            Ok((message.sequence, Some(named)))
        }
        Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((0, None)),
        Err(err) => Err(ApiError::Unavailable(format!(
            "reading {ADMINS_SUBJECT}: {err}"
        ))),
    }
}
