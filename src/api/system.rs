//! Health, metrics, the static page, the access log, and the JSON 404.

use crate::app::AppState;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::net::client_ip;
use crate::protocol::rest::Health;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use include_dir::{include_dir, Dir, DirEntry};

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let ok = state.store.healthy().await;
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        db: if ok { "ok" } else { "down" },
        bus: state.hub.bus_state().as_str(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        connections: state.hub.connection_count(),
    };
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

/// The page: every file under `static/`, embedded in the binary at compile time, so the server
/// serves it from whatever directory it runs in. Each file is at `/<its path under static/>`, and
/// `/` is `index.html`.
static STATIC_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// The file served at `/`.
const INDEX: &str = "index.html";

/// The embedded files to serve, with their paths under `static/` (`/`-separated). Dotfiles
/// (editor and OS droppings such as `.DS_Store`) are left out.
fn static_files() -> Vec<(String, &'static [u8])> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
        for entry in dir.entries() {
            let hidden = entry
                .path()
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            match entry {
                DirEntry::Dir(d) => walk(d, out),
                DirEntry::File(f) => {
                    // include_dir stores paths `/`-separated on every platform.
                    out.push((f.path().to_string_lossy().into_owned(), f.contents()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&STATIC_DIR, &mut out);
    out
}

/// The `Content-Type` of a static file, from its extension.
fn mime_for(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Serves one embedded file: its type, `Cache-Control: no-cache` (the browser revalidates, so
/// a new binary's page is picked up at once), and the bytes.
fn static_route(mime: &'static str, body: &'static [u8]) -> actix_web::Route {
    web::get().to(move || async move {
        HttpResponse::Ok()
            .content_type(mime)
            .insert_header(("Cache-Control", "no-cache"))
            .body(body)
    })
}

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
    // One exact route per file (no catch-all), so an unknown path still reaches the JSON 404
    // and another method on a file's path answers 405.
    for (path, body) in static_files() {
        let mime = mime_for(&path);
        if path == INDEX {
            cfg.route("/", static_route(mime, body));
        }
        cfg.route(&format!("/{path}"), static_route(mime, body));
    }
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

/// Logs each request (client address, method, redacted path, status, time) and counts it.
/// Never logs headers or bodies, so no credential reaches the log.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let uri = redact_uri(req.path(), req.query_string());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let trusted = state
        .as_ref()
        .map_or(&[][..], |s| &s.config.trusted_proxies);
    let peer = client_ip(req.request(), trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
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
    use super::{configure, mime_for, redact_uri, static_files};
    use actix_web::{test as web_test, App};
    use std::path::Path;

    /// Every file under `static/` on disk, with its `/`-separated path there; dotfiles left out.
    fn files_on_disk() -> Vec<(String, Vec<u8>)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                    out.push((rel.replace('\\', "/"), std::fs::read(&path).unwrap()));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }

    /// The type each kind of file in `static/` must be served with (the first three are the
    /// types the page was served with when its files were listed by hand). A file of a kind not
    /// listed here fails the test until its expected type is added.
    const EXPECTED_TYPES: &[(&str, &str)] = &[
        ("html", "text/html; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("json", "application/json"),
        ("svg", "image/svg+xml"),
        ("png", "image/png"),
        ("ico", "image/x-icon"),
        ("woff2", "font/woff2"),
    ];

    #[actix_web::test]
    async fn every_static_file_is_served_with_its_type() {
        let disk = files_on_disk();
        assert!(disk.iter().any(|(p, _)| p == "index.html"));
        let mut embedded: Vec<String> = static_files().into_iter().map(|(p, _)| p).collect();
        embedded.sort();
        let on_disk: Vec<&str> = disk.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            embedded, on_disk,
            "the embedded files differ from static/ (a file added since the last build is \
             embedded once the crate is rebuilt: touch src/api/system.rs)"
        );
        let app = web_test::init_service(App::new().configure(configure)).await;
        for (path, bytes) in &disk {
            let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
            let want = EXPECTED_TYPES
                .iter()
                .find(|(e, _)| *e == ext)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| panic!("static/{path}: add its type to EXPECTED_TYPES"));
            let mut urls = vec![format!("/{path}")];
            if path == "index.html" {
                urls.push("/".into());
            }
            for url in urls {
                let req = web_test::TestRequest::get().uri(&url).to_request();
                let res = web_test::call_service(&app, req).await;
                assert_eq!(res.status(), 200, "GET {url}");
                let headers = res.headers();
                assert_eq!(headers.get("content-type").unwrap(), want, "GET {url}");
                assert_eq!(
                    headers.get("cache-control").unwrap(),
                    "no-cache",
                    "GET {url}"
                );
                let body = web_test::read_body(res).await;
                assert!(
                    body[..] == bytes[..],
                    "GET {url}: not the bytes of static/{path}"
                );
            }
        }
    }

    #[test]
    fn mime_types_come_from_the_extension() {
        assert_eq!(mime_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(mime_for("a/b/App.JS"), "text/javascript; charset=utf-8");
        assert_eq!(mime_for("style.css"), "text/css; charset=utf-8");
        assert_eq!(mime_for("icon.png"), "image/png");
        assert_eq!(mime_for("LICENSE"), "application/octet-stream");
        assert_eq!(mime_for("archive.unknown"), "application/octet-stream");
    }

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
