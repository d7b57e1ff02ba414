//! `/api/auth/*`.

use super::{Auth, JsonBody};
use crate::app::AppState;
use crate::auth::credential::guest_header;
use crate::auth::{LoginRequest, RegisterRequest};
use crate::error::AppError;
use crate::net::client_ip;
use crate::protocol::rest::Me;
use actix_web::{web, HttpRequest, HttpResponse};

async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let peer = client_ip(&req, &state.config.trusted_proxies).map(|ip| ip.to_string());
    let grant = state.auth.register(body.0, peer.as_deref()).await?;
    adopt_guest(&state, &req, &grant.user).await;
    Ok(HttpResponse::Created().json(grant))
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let grant = state.auth.login(body.0).await?;
    adopt_guest(&state, &req, &grant.user).await;
    Ok(HttpResponse::Ok().json(grant))
}

/// With `X-Guest-Token`, the visitor's support conversation becomes the user's (contract
/// section 6); a bad token is ignored.
async fn adopt_guest(state: &AppState, req: &HttpRequest, user: &crate::db::users::User) {
    if let Some(token) = guest_header(req) {
        state.support.adopt(user, &token).await;
    }
}

async fn logout(state: web::Data<AppState>, who: Auth) -> Result<HttpResponse, AppError> {
    state.auth.logout(&who.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn refresh(state: web::Data<AppState>, who: Auth) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(state.auth.refresh(&who.0).await?))
}

async fn me(who: Auth) -> HttpResponse {
    HttpResponse::Ok().json(Me { user: who.0.user })
}

async fn ws_ticket(state: web::Data<AppState>, who: Auth) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(state.auth.ws_ticket(&who.0).await?))
}

/// Registers the account routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/auth/register", web::post().to(register))
        .route("/api/auth/login", web::post().to(login))
        .route("/api/auth/logout", web::post().to(logout))
        .route("/api/auth/refresh", web::post().to(refresh))
        .route("/api/auth/me", web::get().to(me))
        .route("/api/auth/ws-ticket", web::post().to(ws_ticket));
}
