//! Health, metrics, the static page, the access log, and the JSON 404.

use crate::app::AppState;
use crate::error::AppError;
use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::ContentType;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde_json::json;

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let ok = state.db.healthy().await;
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "db": if ok { "ok" } else { "unavailable" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "connections": state.hub.connection_count(),
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(
            state.hub.connection_count(),
            state.started.elapsed().as_secs(),
        ))
}

/// The static page, embedded in the binary.
const STATIC_FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../static/index.html"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_str!("../../static/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "/hearth-client.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/hearth-client.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
];

/// Unknown paths answer the contract's `not_found` body; a known path with a method it does not
/// serve answers 405 `method_not_allowed` in the same shape.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    if req.resource_map().has_resource(req.path()) {
        return Err(AppError::MethodNotAllowed(format!(
            "{} is not allowed on {}",
            req.method(),
            req.path()
        )));
    }
    Err(AppError::not_found("resource"))
}

/// `HEAD` is served wherever `GET` is: the request is routed as a `GET`, and the HTTP layer,
/// which remembers that the client asked for `HEAD`, sends the headers without the body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Registers health, metrics and the static files.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
    for &(path, mime, body) in STATIC_FILES {
        cfg.route(
            path,
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .insert_header(ContentType(mime.parse().unwrap_or(mime_fallback())))
                    .insert_header(("Cache-Control", "no-cache"))
                    .body(body)
            }),
        );
    }
}

fn mime_fallback() -> actix_web::mime::Mime {
    actix_web::mime::TEXT_PLAIN
}

/// Query parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &["token", "access", "ticket", "guest"];

/// The path and query with the values of `token`, `access`, `ticket` and `guest` replaced by
/// `REDACTED`, for logging. Names are compared after percent-decoding, as the server reads
/// them (`?%74oken=` is `token`); a pair that does not decode is redacted whole.
pub fn redact_uri(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let raw_name = pair.split_once('=').map_or(pair, |(k, _)| k);
            match decoded_name(raw_name) {
                Some(name) if !SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) => {
                    pair.to_string()
                }
                _ => format!("{raw_name}=REDACTED"),
            }
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

/// A query parameter's name decoded the way the query extractor decodes it.
fn decoded_name(raw: &str) -> Option<String> {
    web::Query::<Vec<(String, String)>>::from_query(&format!("{raw}="))
        .ok()
        .and_then(|q| q.into_inner().into_iter().next())
        .map(|(k, _)| k)
}

/// Logs each request (method, redacted path, status, time) and counts it. Never logs headers
/// or bodies, so no credential reaches the log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let uri = redact_uri(req.path(), req.query_string());
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    if let Some(state) = state {
        Metrics::inc(&state.metrics.http_requests);
        if status >= 500 {
            Metrics::inc(&state.metrics.http_errors);
        }
    }
    tracing::info!(
        target: "hearth::access",
        "{peer} {method} {uri} {status} {:.1}ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::redact_uri;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact_uri("/ws/chat/", ""), "/ws/chat/");
        let s = redact_uri("/ws/chat/", "token=abc&x=1&TICKET=def&access=g&guest=h");
        assert_eq!(
            s,
            "/ws/chat/?token=REDACTED&x=1&TICKET=REDACTED&access=REDACTED&guest=REDACTED"
        );
        assert!(!s.contains("abc") && !s.contains("def"));
    }

    #[test]
    fn percent_encoded_names_are_redacted() {
        for q in [
            "%74oken=abc",
            "tok%65n=abc",
            "%61ccess=abc",
            "T%4FKEN=abc",
            "%74icket=abc",
            "gu%65st=abc",
            "x=1&%74oken=abc&y=2",
        ] {
            let s = redact_uri("/ws/chat/", q);
            assert!(!s.contains("abc"), "{q} -> {s}");
        }
        assert_eq!(redact_uri("/p", "tokens=1&a%20b=2"), "/p?tokens=1&a%20b=2");
    }
}
