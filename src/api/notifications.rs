//! `/api/notifications`.

use super::Auth;
use crate::error::AppError;
use crate::notifications;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

type Res = Result<HttpResponse, AppError>;

/// `?unread=true&limit=`
#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    unread: bool,
    limit: Option<i64>,
}

async fn list(state: web::Data<AppState>, who: Auth, q: web::Query<ListQuery>) -> Res {
    let list = notifications::list(&state, &who.0.user, q.unread, q.limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "notifications": list })))
}

async fn read(state: web::Data<AppState>, who: Auth, id: web::Path<i64>) -> Res {
    let n = notifications::mark_read(&state, &who.0.user, *id).await?;
    Ok(HttpResponse::Ok().json(json!({ "notification": n })))
}

async fn read_all(state: web::Data<AppState>, who: Auth) -> Res {
    let updated = notifications::mark_all_read(&state, &who.0.user).await?;
    Ok(HttpResponse::Ok().json(json!({ "updated": updated })))
}

/// Registers the notification routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/notifications", web::get().to(list))
        .route("/api/notifications/read-all", web::post().to(read_all))
        .route("/api/notifications/{id}/read", web::post().to(read));
}
