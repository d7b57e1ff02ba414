//! `/api/notifications`.

use super::Auth;
use crate::app::AppState;
use crate::error::AppError;
use crate::protocol::rest::{AllRead, NotificationList, NotificationRead};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

type Res = Result<HttpResponse, AppError>;

/// `?unread=true&limit=`
#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    unread: bool,
    limit: Option<i64>,
}

async fn list(state: web::Data<AppState>, who: Auth, q: web::Query<ListQuery>) -> Res {
    let list = state
        .notifications
        .list(&who.0.user, q.unread, q.limit)
        .await?;
    Ok(HttpResponse::Ok().json(NotificationList {
        notifications: list,
    }))
}

async fn read(state: web::Data<AppState>, who: Auth, id: web::Path<i64>) -> Res {
    let n = state.notifications.mark_read(&who.0.user, *id).await?;
    Ok(HttpResponse::Ok().json(NotificationRead { notification: n }))
}

async fn read_all(state: web::Data<AppState>, who: Auth) -> Res {
    let updated = state.notifications.mark_all_read(&who.0.user).await?;
    Ok(HttpResponse::Ok().json(AllRead { updated }))
}

/// Registers the notification routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/notifications", web::get().to(list))
        .route("/api/notifications/read-all", web::post().to(read_all))
        .route("/api/notifications/{id}/read", web::post().to(read));
}
