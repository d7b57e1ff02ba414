//! Errors as types, mapped once to the contract's REST error body and WebSocket error frames.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Every failure an operation can report to a peer.
///
/// REST handlers return it directly (it implements [`ResponseError`]); the WebSocket dispatcher
/// turns it into an `error` frame with [`AppError::code`] and the same message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The body or frame is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// JSON, but a field is missing, of the wrong type or out of range.
    #[error("{message}")]
    Validation {
        /// Human text.
        message: String,
        /// Field name → why it is wrong.
        fields: BTreeMap<String, String>,
    },
    /// No usable credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness conflict (e.g. a username that is taken).
    #[error("{0}")]
    Conflict(String),
    /// A body over the size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many requests; try again after the given delay.
    #[error("{message}")]
    RateLimited {
        /// Human text.
        message: String,
        /// How long to wait.
        retry_after: Duration,
    },
    /// WebSocket only: a frame whose `type` the endpoint does not know.
    #[error("{0}")]
    UnknownType(String),
    /// WebSocket only: a binary frame.
    #[error("binary frames are not supported")]
    UnsupportedFrame,
    /// The database is unusable or something else went wrong on our side. The detail is logged,
    /// never sent.
    #[error("internal error")]
    Internal(String),
}

/// Shorthand for results of operations.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A `validation_failed` error about one field.
    pub fn field(name: &str, why: impl Into<String>) -> Self {
        let why = why.into();
        let mut fields = BTreeMap::new();
        fields.insert(name.to_string(), why.clone());
        AppError::Validation {
            message: format!("{name}: {why}"),
            fields,
        }
    }

    /// A `validation_failed` error without a field.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Validation {
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// A `not_found` error with the usual text.
    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidJson(_) => "invalid_json",
            AppError::Validation { .. } => "validation_failed",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::UnknownType(_) => "unknown_type",
            AppError::UnsupportedFrame => "unsupported_frame",
            AppError::Internal(_) => "internal",
        }
    }

    /// The field errors, if any.
    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            AppError::Validation { fields, .. } if !fields.is_empty() => Some(fields),
            _ => None,
        }
    }

    /// The `Retry-After` delay of a `rate_limited` error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AppError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// `{"error": {"code", "message", "fields"?}}`
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, String>>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::InvalidJson(_)
            | AppError::Validation { .. }
            | AppError::UnknownType(_)
            | AppError::UnsupportedFrame => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code());
        if let Some(after) = self.retry_after() {
            resp.insert_header((header::RETRY_AFTER, retry_after_secs(after).to_string()));
        }
        if matches!(self, AppError::Unauthenticated(_)) {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        resp.json(ErrorBody {
            error: ErrorInner {
                code: self.code(),
                message: self.to_string(),
                fields: self.fields(),
            },
        })
    }
}

/// Default page size of every list.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size of every list.
pub const MAX_LIMIT: i64 = 100;

/// Checks a list's `limit`: absent means [`DEFAULT_LIMIT`], otherwise 1 to [`MAX_LIMIT`].
pub fn page_limit(limit: Option<i64>) -> AppResult<i64> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(AppError::field(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        )),
    }
}

/// Whole seconds for a `Retry-After` header, rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("sqlite: {e}"))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Internal(format!("pool: {e}"))
    }
}

impl From<serde_json::Error> for AppError {
    /// Syntax errors are `invalid_json`; well-formed JSON of the wrong shape is
    /// `validation_failed`.
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                AppError::InvalidJson(format!("invalid JSON: {e}"))
            }
            Category::Data => AppError::invalid(strip_position(&e.to_string())),
        }
    }
}

/// serde_json appends " at line 1 column 17"; that is noise in a validation message.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_classify() {
        let e: AppError = serde_json::from_str::<serde_json::Value>("{")
            .unwrap_err()
            .into();
        assert_eq!(e.code(), "invalid_json");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            a: u32,
        }
        let e: AppError = serde_json::from_str::<S>("{\"a\": \"x\"}")
            .unwrap_err()
            .into();
        assert_eq!(e.code(), "validation_failed");
        assert!(!e.to_string().contains("line 1"));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
    }
}
