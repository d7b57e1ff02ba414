//! Routes typed client frames to the endpoint's operations. Each arm is a thin adapter over
//! an operation that REST shares.

use super::session::Ctx;
use crate::error::{AppError, AppResult};
use crate::protocol::{ClientMsg, ServerMsg};

/// Frames sent right after `connected` (e.g. the task snapshot on `/ws/tasks/`).
pub async fn on_connect(_ctx: &Ctx) -> AppResult<Vec<ServerMsg>> {
    Ok(Vec::new())
}

/// Handles one request; `Ok(None)` when the operation has no reply.
pub async fn handle(ctx: &Ctx, msg: ClientMsg) -> AppResult<Option<ServerMsg>> {
    let _ = ctx;
    Err(AppError::UnknownType(format!(
        "'{}' is not handled on this endpoint",
        type_name(&msg)
    )))
}

fn type_name(msg: &ClientMsg) -> String {
    format!("{msg:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("")
        .to_string()
}
