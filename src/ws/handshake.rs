//! What is decided before and at the upgrade: the Origin check and which credential the
//! client presented.

use crate::config::Config;
use crate::error::AppError;
use actix_web::http::header;
use actix_web::HttpRequest;

/// Refuses a handshake whose `Origin` is present and not allowed. Allowed: the origin whose
/// host (with port) equals the request's `Host`, and the configured extra origins.
pub fn check_origin(req: &HttpRequest, config: &Config) -> Result<(), AppError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim().trim_end_matches('/');
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if origin_allowed(origin, host, &config.allowed_origins) {
        Ok(())
    } else {
        Err(AppError::Forbidden("origin not allowed".into()))
    }
}

/// The pure rule behind [`check_origin`].
pub fn origin_allowed(origin: &str, host: &str, extra: &[String]) -> bool {
    let origin = origin.to_ascii_lowercase();
    if extra
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return true;
    }
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match origin_host {
        Some(h) => !host.is_empty() && h.eq_ignore_ascii_case(host),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_rules() {
        assert!(origin_allowed(
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(origin_allowed("https://Chat.Example", "chat.example", &[]));
        assert!(!origin_allowed(
            "http://evil.example",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(!origin_allowed("null", "127.0.0.1:8080", &[]));
        assert!(!origin_allowed(
            "http://127.0.0.1:9999",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(origin_allowed(
            "http://app.example",
            "127.0.0.1:8080",
            &["http://app.example/".into()]
        ));
    }
}
