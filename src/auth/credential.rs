//! Which credential a request presents, read the same way by the WebSocket handshake and the
//! REST transport.

use super::Credential;
use actix_web::http::header;
use actix_web::HttpRequest;

/// Where the credential is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A WebSocket handshake.
    Handshake,
    /// A REST call.
    Rest,
}

/// The one credential extractor of both transports, first match wins:
/// 1. `?ticket=` (handshakes only),
/// 2. `?token=` or `?access=` (handshakes only),
/// 3. `Sec-WebSocket-Protocol: bearer, <token>` (handshakes only),
/// 4. `Authorization: Bearer <token>` or `Token <token>`,
/// 5. where guests are allowed (the support endpoint and its REST mirror): `?guest=` on a
///    handshake, `X-Guest-Token` on REST.
///
/// REST reads no credential from the query string (a ticket is for one handshake, and a token
/// in a URL ends up in logs and histories).
pub fn credential(req: &HttpRequest, via: Via, guests: bool) -> Credential {
    let handshake = via == Via::Handshake;
    let query = if handshake {
        query_pairs(req.query_string())
    } else {
        Vec::new()
    };
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
    if let Some(t) = protocol_token(req).filter(|_| handshake) {
        return Credential::Token(t);
    }
    if let Some(t) = bearer_header(req) {
        return Credential::Token(t);
    }
    if guests {
        let header = guest_header(req).filter(|_| !handshake);
        if let Some(g) = get("guest").or(header) {
            return Credential::Guest(g);
        }
    }
    Credential::None
}

/// The `X-Guest-Token` header of a REST call, if any (also read on sign-up and sign-in, where
/// it names a support conversation to keep).
pub fn guest_header(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-guest-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
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
    fn credential_precedence() {
        let req = TestRequest::get()
            .uri("/ws/chat/?token=t1&ticket=k1")
            .insert_header(("Authorization", "Bearer h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Via::Handshake, false),
            Credential::Ticket("k1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/?access=a1")
            .to_http_request();
        assert_eq!(
            credential(&req, Via::Handshake, false),
            Credential::Token("a1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/")
            .insert_header(("Sec-WebSocket-Protocol", "bearer, p1"))
            .insert_header(("Authorization", "Token h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Via::Handshake, false),
            Credential::Token("p1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/")
            .insert_header(("Authorization", "Token h1"))
            .to_http_request();
        assert_eq!(
            credential(&req, Via::Handshake, false),
            Credential::Token("h1".into())
        );
        let req = TestRequest::get()
            .uri("/ws/chat/?guest=g")
            .to_http_request();
        assert_eq!(credential(&req, Via::Handshake, false), Credential::None);
        assert_eq!(
            credential(&req, Via::Handshake, true),
            Credential::Guest("g".into())
        );
    }

    #[test]
    fn rest_reads_headers_only() {
        let req = TestRequest::get()
            .uri("/api/support/messages?token=q&ticket=k&guest=g")
            .insert_header(("X-Guest-Token", "g2"))
            .to_http_request();
        assert_eq!(credential(&req, Via::Rest, false), Credential::None);
        assert_eq!(
            credential(&req, Via::Rest, true),
            Credential::Guest("g2".into())
        );
        let req = TestRequest::get()
            .uri("/api/support/messages")
            .insert_header(("X-Guest-Token", "g2"))
            .insert_header(("Authorization", "Bearer b"))
            .to_http_request();
        assert_eq!(
            credential(&req, Via::Rest, true),
            Credential::Token("b".into())
        );
    }
}
