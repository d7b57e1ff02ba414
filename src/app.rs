//! The composition root: builds every service from the configuration, each with only the
//! handles it uses, and holds them for the transports.

use crate::auth::hasher::Hasher;
use crate::auth::{Auth, AuthSettings};
use crate::chat::Chat;
use crate::config::Config;
use crate::db::store::Store;
use crate::error::AppResult;
use crate::hub::{Bus, ClusterHub, Hub, LocalHub};
use crate::metrics::Metrics;
use crate::notifications::Notifications;
use crate::presence::Presence;
use crate::quota::Quota;
use crate::rate::UserBuckets;
use crate::support::Support;
use crate::tasks::{TaskLimits, Tasks};
use std::sync::Arc;
use std::time::Instant;

/// The application: the services and what the transports need besides them. Behind
/// `web::Data<AppState>` in the HTTP server.
pub struct AppState {
    /// The configuration the server was started with.
    pub config: Config,
    /// The storage (the health check and tests reach it directly).
    pub store: Store,
    /// WebSocket fan-out.
    pub hub: Arc<dyn Hub>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// When the server started.
    pub started: Instant,
    /// Accounts and credentials.
    pub auth: Auth,
    /// Rooms and messages.
    pub chat: Chat,
    /// Support conversations.
    pub support: Support,
    /// Background tasks.
    pub tasks: Tasks,
    /// The notification inbox.
    pub notifications: Notifications,
    /// Who is online.
    pub presence: Presence,
    /// REST write rate, per user (`rest_writes_per_second`, taken by the REST transport).
    pub rest_writes: UserBuckets,
}

impl AppState {
    /// Builds the services over an open database: the hub, the hashing pool, the chat
    /// service (and its message writer), support, tasks (and the runner, which recovers tasks
    /// left running by the last shutdown).
    pub async fn build(config: Config, store: Store) -> AppResult<AppState> {
        let hub = build_hub(&config, &store).await?;
        let metrics = Arc::new(Metrics::default());
        let hasher = Hasher::start(
            config.hash_workers,
            config.hash_queue,
            config.argon2_memory_kib,
        )
        .map_err(|e| crate::error::AppError::Internal(format!("hashing pool: {e}")))?;
        // The account quotas, in the database (shared by every node, kept across restarts).
        let logins = Quota::new(
            store.clone(),
            "login",
            config.login_max_failures,
            config.login_window,
        );
        let register = logins.with_scope(
            "register",
            config.register_max_per_window,
            config.register_window,
        );
        let guests = logins.with_scope("guest", config.guest_max_per_window, config.guest_window);
        let auth = Auth::start(
            store.clone(),
            hub.clone(),
            hasher,
            logins,
            register,
            AuthSettings {
                registration_open: config.registration_open,
                token_ttl: config.token_ttl,
                ticket_ttl: config.ticket_ttl,
            },
        )
        .await?;
        let presence = Presence::new(store.clone(), hub.clone(), config.presence_grace);
        let chat = Chat::start(
            store.clone(),
            hub.clone(),
            metrics.clone(),
            config.rooms_per_hour,
            presence.clone(),
        )
        .await?;
        let support = Support::new(chat.clone(), store.clone(), guests);
        let tasks = Tasks::start_service(
            store.clone(),
            hub.clone(),
            chat.clone(),
            metrics.clone(),
            TaskLimits {
                workers: config.task_workers,
                per_user: config.task_per_user,
                max_active: config.max_active_tasks_per_user,
                slowdown: config.task_slowdown,
            },
        )
        .await?;
        Ok(AppState {
            notifications: Notifications::new(store.clone()),
            rest_writes: UserBuckets::new(config.rest_writes_per_second),
            started: Instant::now(),
            auth,
            presence,
            chat,
            support,
            tasks,
            hub,
            metrics,
            store,
            config,
        })
    }
}

/// The hub: this process's sockets alone, or, with `--bus`, a [`ClusterHub`] that shares
/// every push with the other nodes through the database's event log and wakes them over NATS.
async fn build_hub(config: &Config, store: &Store) -> AppResult<Arc<dyn Hub>> {
    let local = Arc::new(LocalHub::new(config.max_connections_per_user));
    if config.bus.is_empty() {
        return Ok(local);
    }
    // A random id per process start: a node's own events are not applied twice.
    let node = (rand::random::<u64>() >> 1).max(1) as i64;
    let wake = Arc::new(tokio::sync::Notify::new());
    let bus = Bus::connect(&config.bus, node, wake.clone())
        .await
        .map_err(crate::error::AppError::Internal)?;
    tracing::info!(node, bus = %config.bus.join(","), "joining the cluster");
    let hub: Arc<dyn Hub> = ClusterHub::start(local, store.clone(), node, Some(bus), wake).await?;
    Ok(hub)
}
