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
    /// The path exists, but not for this method (REST only).
    #[error("{0}")]
    MethodNotAllowed(String),
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
    /// Something went wrong on our side. The detail (with its cause chain) is in the `Display`
    /// text for logs, never sent: clients see [`AppError::public_message`].
    #[error("internal error: {0}")]
    Internal(String),
    /// The database cannot take the request right now (locked by another process, disk full,
    /// I/O error, read-only, no connection within the pool's timeout). Answers like
    /// [`AppError::Internal`]; the storage layer also counts it against the health check.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
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
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::UnknownType(_) => "unknown_type",
            AppError::UnsupportedFrame => "unsupported_frame",
            AppError::Internal(_) | AppError::StorageUnavailable(_) => "internal",
        }
    }

    /// The field errors, if any.
    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            AppError::Validation { fields, .. } if !fields.is_empty() => Some(fields),
            _ => None,
        }
    }

    /// The text a client sees: the `Display` text, except for failures on our side, whose
    /// detail stays in the logs.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) | AppError::StorageUnavailable(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    /// Whether this is a failure on our side (logged with its detail).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            AppError::Internal(_) | AppError::StorageUnavailable(_)
        )
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
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) | AppError::StorageUnavailable(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.is_internal() {
            tracing::error!(error = %self, "request failed");
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
                message: self.public_message(),
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

/// An error and its whole `source()` chain, joined with ": ", for logs.
pub fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// SQLite result codes that mean "the database cannot take this now" rather than a bug.
fn storage_unavailable(code: rusqlite::ErrorCode) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        code,
        DatabaseBusy
            | DatabaseLocked
            | DiskFull
            | SystemIoFailure
            | ReadOnly
            | CannotOpen
            | OutOfMemory
            | NotADatabase
            | DatabaseCorrupt
            | FileLockingProtocolFailed
    )
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        let detail = format!("sqlite: {}", cause_chain(&e));
        match e.sqlite_error_code() {
            Some(code) if storage_unavailable(code) => AppError::StorageUnavailable(detail),
            _ => AppError::Internal(detail),
        }
    }
}

impl From<postgres::Error> for AppError {
    /// A lost connection, a server shutting down, no room (SQLSTATE classes 08, 53, 57, 58)
    /// mean "unavailable"; anything else is a bug. Unique violations are turned into
    /// `conflict` by the statements that expect them (see [`is_unique_violation`]).
    fn from(e: postgres::Error) -> Self {
        let detail = format!("postgres: {}", cause_chain(&e));
        let unavailable = e.is_closed()
            || match e.code() {
                None => std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()),
                Some(code) => ["08", "53", "57", "58"]
                    .iter()
                    .any(|class| code.code().starts_with(class)),
            };
        if unavailable {
            AppError::StorageUnavailable(detail)
        } else {
            AppError::Internal(detail)
        }
    }
}

/// Whether a PostgreSQL error is a unique-constraint violation.
pub fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

impl From<r2d2::Error> for AppError {
    /// The pool fails only when no connection could be had in time: the database is stuck.
    fn from(e: r2d2::Error) -> Self {
        AppError::StorageUnavailable(format!("pool: {}", cause_chain(&e)))
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
