//! What people submit to the account endpoints: usernames, passwords and display names with
//! the contract's rules, the request bodies, and the grants answered.

use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A username that follows the contract's rules: 3–32 of `A-Z a-z 0-9 _ . -`.
#[derive(Debug, Clone)]
pub struct Username(String);

impl Username {
    /// Checks the rules.
    pub fn parse(s: &str) -> AppResult<Username> {
        let n = s.chars().count();
        if !(3..=32).contains(&n) {
            return Err(AppError::field("username", "must be 3 to 32 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(AppError::field(
                "username",
                "may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Username(s.to_string()))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8–1024 characters.
pub struct Password(pub(crate) String);

impl Password {
    /// Checks the length.
    pub fn parse(s: &str) -> AppResult<Password> {
        let n = s.chars().count();
        if !(8..=1024).contains(&n) {
            return Err(AppError::field("password", "must be 8 to 1024 characters"));
        }
        Ok(Password(s.to_string()))
    }
}

/// A display name: trimmed, 1–64 characters, no control characters.
pub fn parse_display_name(s: &str) -> AppResult<String> {
    let t = s.trim();
    if !crate::text::has_visible(t) || t.chars().count() > 64 {
        return Err(AppError::field(
            "display_name",
            "must be 1 to 64 characters",
        ));
    }
    if t.chars().any(crate::text::forbidden_in_name) {
        return Err(AppError::field(
            "display_name",
            "must not contain control or text-direction characters",
        ));
    }
    Ok(t.to_string())
}

/// `POST /api/auth/register` body.
#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    /// Wanted username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Optional shown name (defaults to the username).
    pub display_name: Option<String>,
}

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    /// Username (case-insensitive).
    pub username: String,
    /// Password.
    pub password: String,
}

/// `{token, expires_at, user}`.
#[derive(Debug, Serialize)]
pub struct SessionGrant {
    /// The new bearer token (shown once, never stored).
    pub token: String,
    /// Its expiry.
    pub expires_at: Timestamp,
    /// The user.
    pub user: User,
}

/// `{token, expires_at}`.
#[derive(Debug, Serialize)]
pub struct TokenGrant {
    /// The new bearer token.
    pub token: String,
    /// Its expiry.
    pub expires_at: Timestamp,
}

/// `{ticket, expires_at}`.
#[derive(Debug, Serialize)]
pub struct TicketGrant {
    /// The single-use ticket.
    pub ticket: String,
    /// Its expiry (60 s by default).
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("a.b-c_D9").is_ok());
        assert!(Username::parse(&"x".repeat(33)).is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("héllo").is_err());
    }

    #[test]
    fn password_and_display_name_rules() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"p".repeat(1025)).is_err());
        assert_eq!(parse_display_name("  Ann  ").unwrap(), "Ann");
        assert!(parse_display_name("   ").is_err());
        assert!(parse_display_name("a\u{7}b").is_err());
    }
}
