//! Hearth: a real-time chat and task server in one binary on an embedded SQLite database.
//!
//! [`Server::start`] builds the whole application from a [`Config`]; the binary and the
//! integration tests start it the same way. The wire contract is `docs/protocol.md`.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod net;
pub mod notifications;
pub mod ops;
pub mod presence;
pub mod protocol;
pub mod quota;
pub mod rate;
pub mod support;
pub mod tasks;
#[cfg(test)]
pub(crate) mod testkit;
pub mod text;
pub mod time;
pub mod ws;

pub use config::Config;

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use app::AppState;
use protocol::Close;
use std::net::TcpListener;
use std::time::Duration;

/// A running server.
pub struct Server {
    port: u16,
    handle: ServerHandle,
    state: web::Data<AppState>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    probe: tokio::task::JoinHandle<()>,
    user_events: tokio::task::JoinHandle<()>,
}

/// The address a person opens for the page: the bound one, with a wildcard address shown as
/// loopback (a browser cannot open `0.0.0.0`).
fn page_url(addr: std::net::SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}/", addr.port())
}

/// Proves every `interval` that the database takes writes, so that `/api/health` turns 503
/// when it cannot (another process holds a lock, the disk is full) and back to 200 by itself.
async fn probe_writes(store: db::store::Store, interval: Duration) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let store = store.clone();
        let _ = tokio::task::spawn_blocking(move || store.probe_write_blocking()).await;
    }
}

impl Server {
    /// Opens the database, binds the listener and starts serving in the background.
    pub async fn start(config: Config) -> std::io::Result<Server> {
        config.check().map_err(std::io::Error::other)?;
        let path = config.db.clone();
        let store = tokio::task::spawn_blocking(move || db::store::Store::open(&path))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(&config.bind)?;
        let local = listener.local_addr()?;
        let port = local.port();
        let state = AppState::build(config, store)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let user_events = tokio::spawn(
            state
                .auth
                .clone()
                .follow_user_events(auth::events::USER_EVENTS_EVERY),
        );
        let probe = tokio::spawn(probe_writes(
            state.store.clone(),
            state.config.health_probe_interval,
        ));
        let state = web::Data::new(state);
        let workers = state.config.workers.max(1);
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(from_fn(api::system::head_as_get))
                .wrap(from_fn(api::system::access_log))
                .configure(ws::configure)
                .configure(api::configure)
                .default_service(web::to(api::system::not_found))
        })
        .workers(workers)
        // Keeps each connection's TCP stream within reach of its WebSocket session, which cuts
        // it when a client does not take its close (see `ws::tcp_link`).
        .on_connect(ws::tcp_link::on_connect)
        // Real-time frames go out at once: with Nagle's algorithm a frame written right after
        // another (a push, then the reply) waits for the peer's delayed ACK, up to ~40 ms.
        .tcp_nodelay(true)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(
            port,
            url = %page_url(local),
            db = %db::pg::redact(&state.config.db),
            "hearth listening"
        );
        Ok(Server {
            port,
            handle,
            state,
            task,
            probe,
            user_events,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use it to reach the database or the hub).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// Graceful stop: close every socket with 1001, let writers flush, stop HTTP.
    pub async fn stop(self) {
        self.probe.abort();
        self.user_events.abort();
        self.state.tasks.stop();
        self.state.hub.stop();
        self.state
            .hub
            .close_all(Close::plain(1001, "server shutting down"));
        let _ = tokio::time::timeout(Duration::from_secs(3), self.state.hub.wait_empty()).await;
        self.handle.stop(true).await;
        let _ = self.task.await;
        // Everything acknowledged is already committed; let queued sends finish too.
        self.state.chat.flush().await;
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        shutdown_signal().await?;
        tracing::info!("shutting down");
        self.stop().await;
        Ok(())
    }
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
