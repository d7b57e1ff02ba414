//! Support chat for anonymous visitors and signed-in users.

use crate::auth::{token, Principal};
use crate::db::tokens::{self, Kind};
use crate::db::users;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Creates a guest user and its resume token for a visitor without credentials. Limited per
/// client address.
pub async fn create_guest(state: &AppState, peer: Option<&str>) -> AppResult<(Principal, String)> {
    let key = peer.unwrap_or("unknown");
    if let Some(wait) = state.guest_throttle.check(key) {
        return Err(AppError::RateLimited {
            message: "too many new visitors from this address".into(),
            retry_after: wait,
        });
    }
    state.guest_throttle.record(key);
    state
        .db
        .call(|conn| {
            let value = token::random_token();
            let hash = token::hash_token(&value);
            let tag: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
            // '~' cannot appear in a registered username, so guests never collide with users.
            let username = format!("~guest-{tag}");
            let display = format!("Visitor {}", &tag[..4]);
            let tx = crate::db::write_tx(conn)?;
            let user = users::insert(&tx, &username, &display, None, false, true)?;
            let id = tokens::insert(&tx, user.id, Kind::Guest, &hash, None, None)?;
            tx.commit()?;
            Ok((
                Principal {
                    user,
                    token_id: id,
                    expires_at: None,
                },
                value,
            ))
        })
        .await
}
