//! What is decided before and at the upgrade: the Origin check and which credential the
//! client presented.

use crate::auth::Credential;
use crate::config::Config;
use crate::error::AppError;
use crate::hub::Endpoint;
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

/// The credential of a handshake, first match wins: `?ticket=`, `?token=` / `?access=`,
/// `Sec-WebSocket-Protocol: bearer, <token>`, `Authorization: Bearer <token>`; on the support
/// endpoint, finally `?guest=`.
pub fn credential(req: &HttpRequest, endpoint: Endpoint) -> Credential {
    let query = query_pairs(req.query_string());
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    if let Some(t) = get("ticket") {
        return Credential::Ticket(t);
    }
    if let Some(t) = get("token").or_else(|| get("access")) {
        return Credential::Token(t);
    }
    if let Some(t) = protocol_token(req) {
        return Credential::Token(t);
    }
    if let Some(t) = bearer_header(req) {
        return Credential::Token(t);
    }
    if endpoint == Endpoint::Support {
        if let Some(g) = get("guest") {
            return Credential::Guest(g);
        }
    }
    Credential::None
}

fn query_pairs(qs: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(qs)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// The token after `bearer` in `Sec-WebSocket-Protocol`.
fn protocol_token(req: &HttpRequest) -> Option<String> {
    let mut items = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    items.find(|p| p.eq_ignore_ascii_case("bearer"))?;
    items.next().filter(|t| !t.is_empty()).map(str::to_string)
}

/// The token of `Authorization: Bearer <token>` or `Authorization: Token <token>`.
pub fn bearer_header(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.to_string())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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

    #[test]
    fn credential_precedence() {
        let req = TestRequest::get()
            .uri("/ws/chat/?token=t1&ticket=k1")
            .insert_header(("Authorization", "Bearer h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Endpoint::Chat),
            Credential::Ticket("k1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/?access=a1")
            .to_http_request();
        assert_eq!(
            credential(&req, Endpoint::Chat),
            Credential::Token("a1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/")
            .insert_header(("Sec-WebSocket-Protocol", "bearer, p1"))
            .insert_header(("Authorization", "Token h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Endpoint::Chat),
            Credential::Token("p1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/")
            .insert_header(("Authorization", "Token h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Endpoint::Chat),
            Credential::Token("h1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/?guest=g")
            .to_http_request();
        assert_eq!(credential(&req, Endpoint::Chat), Credential::None);
        assert_eq!(
            credential(&req, Endpoint::Support),
            Credential::Guest("g".into())
        );
    }
}
