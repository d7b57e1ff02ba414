//! Routes typed client frames to the operations declared in `ops` (the same declarations the
//! REST routes come from).

use crate::app::AppState;
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::hub::Endpoint;
use crate::protocol::{ClientMsg, ServerMsg};

/// Frames sent right after `connected`: on `/ws/tasks/`, the snapshot of the user's queued and
/// running tasks.
pub async fn on_connect(
    app: &AppState,
    endpoint: Endpoint,
    user: &User,
) -> AppResult<Vec<ServerMsg>> {
    match endpoint {
        Endpoint::Tasks => Ok(vec![ServerMsg::TaskList {
            tasks: app.tasks.active(user).await?,
        }]),
        _ => Ok(Vec::new()),
    }
}

/// Handles one request; `Ok(None)` when the operation has no reply. `kind` is the frame's
/// `type`, for the `unknown_type` message.
pub async fn handle(
    app: &AppState,
    endpoint: Endpoint,
    user: &User,
    kind: &str,
    msg: ClientMsg,
) -> AppResult<Option<ServerMsg>> {
    match crate::ops::table::dispatch(app, endpoint, user, msg).await {
        Ok(reply) => Ok(reply.msg),
        Err(AppError::UnknownType(_)) => Err(AppError::UnknownType(format!(
            "'{kind}' is not handled on this endpoint"
        ))),
        Err(e) => Err(e),
    }
}
