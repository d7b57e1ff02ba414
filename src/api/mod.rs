//! REST adapters. Handlers parse input with the extractors here, call an operation, and
//! shape its answer; they hold no logic of their own.

pub mod accounts;
pub mod notifications;
pub mod ops;
pub mod system;
pub mod tasks;

use crate::app::AppState;
use crate::auth::credential::{credential, Via};
use crate::auth::Principal;
use crate::error::AppError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// A JSON body parsed into `T`, with the contract's errors: `invalid_json` for bad syntax or a
/// non-JSON content type, `validation_failed` for the wrong shape, `payload_too_large` over the
/// size limit.
pub struct JsonBody<T>(pub T);

/// A JSON body that may be absent: an empty body is `None`.
pub struct MaybeJson<T>(pub Option<T>);

/// The body size limit of ordinary requests (`max_message_bytes`).
fn small_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map_or(64 * 1024, |s| s.config.max_message_bytes)
}

/// Reads a request body of at most `limit` bytes with the contract's errors for content type
/// and size; `None` when the body is empty.
pub fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> LocalBoxFuture<'static, Result<Option<web::BytesMut>, AppError>> {
    let content_type_ok = match req.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => {
            let v = v.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = v.split(';').next().unwrap_or("").trim();
            essence == "application/json" || essence.ends_with("+json")
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        let too_large = || AppError::PayloadTooLarge(format!("body over {limit} bytes"));
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| AppError::invalid(format!("reading body: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !content_type_ok {
            return Err(AppError::InvalidJson(
                "expected Content-Type: application/json".into(),
            ));
        }
        Ok(Some(body))
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, small_limit(req));
        Box::pin(async move {
            match body.await? {
                Some(b) => Ok(JsonBody(serde_json::from_slice(&b)?)),
                None => Err(AppError::InvalidJson("a JSON body is required".into())),
            }
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for MaybeJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, small_limit(req));
        Box::pin(async move {
            match body.await? {
                Some(b) => Ok(MaybeJson(Some(serde_json::from_slice(&b)?))),
                None => Ok(MaybeJson(None)),
            }
        })
    }
}

/// Authenticated writes that do not count against `rest_writes_per_second`: logout must
/// always work, and it ends the token that made it (it cannot be repeated with it). Login and
/// register have no caller yet; they are limited per username and per address instead.
pub const UNCOUNTED_WRITES: &[&str] = &["/api/auth/logout"];

/// Whether `req` is a write that counts against its caller's REST write rate: any method but
/// GET, HEAD and OPTIONS, under `/api/`, except [`UNCOUNTED_WRITES`].
pub fn is_counted_write(req: &HttpRequest) -> bool {
    use actix_web::http::Method;
    let read = [Method::GET, Method::HEAD, Method::OPTIONS].contains(req.method());
    let path = req.path();
    !read && path.starts_with("/api/") && !UNCOUNTED_WRITES.contains(&path)
}

/// Takes one REST write from the user's token bucket (`rest_writes_per_second`, a burst of
/// twice that, as a socket's frames): `rate_limited` with `Retry-After` when it is empty.
pub fn take_write(state: &AppState, user_id: i64) -> Result<(), AppError> {
    state
        .rest_writes
        .take(user_id)
        .map_err(|wait| AppError::RateLimited {
            message: format!(
                "too many writes; at most {} a second",
                state.config.rest_writes_per_second
            ),
            retry_after: wait,
        })
}

/// The authenticated caller of a REST call (see `auth::credential` for what is read). On a write
/// ([`is_counted_write`]) it also takes one from the caller's write rate ([`take_write`]),
/// before the body is parsed or the operation runs.
pub struct Auth(pub Principal);

impl FromRequest for Auth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cred = credential(req, Via::Rest, false);
        let write = is_counted_write(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal("no state".into()))?;
            let who = state.auth.require(cred).await?;
            if write {
                take_write(&state, who.user.id)?;
            }
            Ok(Auth(who))
        })
    }
}

/// `Query<T>` with the contract's error for bad query strings.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| AppError::invalid(format!("query string: {e}")).into())
}

/// `Path<T>` errors (e.g. a non-numeric id) answer `not_found`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| AppError::not_found("resource").into())
}

/// Registers every REST route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(query_config())
        .app_data(path_config())
        .configure(accounts::configure)
        .configure(ops::configure)
        .configure(tasks::configure)
        .configure(notifications::configure)
        .configure(system::configure);
}
