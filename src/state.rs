//! What every handler shares.

use crate::auth::hasher::Hasher;
use crate::auth::throttle::Throttle;
use crate::chat::writer::MessageWriter;
use crate::config::Config;
use crate::db::Db;
use crate::hub::Hub;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// The application state behind `web::Data<AppState>`.
pub struct AppState {
    /// The configuration the server was started with.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// WebSocket fan-out.
    pub hub: Arc<dyn Hub>,
    /// Failed-login throttle, per username.
    pub throttle: Throttle,
    /// Guest-creation throttle, per client address.
    pub guest_throttle: Throttle,
    /// An Argon2 hash to verify against for unknown usernames (equal timing).
    pub dummy_hash: String,
    /// When the server started.
    pub started: Instant,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The group-commit message writer.
    pub writer: MessageWriter,
    /// The task runner.
    pub runner: Arc<crate::tasks::runner::Runner>,
    /// The newest stored message id (long-polls wait on it).
    pub latest_message: watch::Sender<i64>,
    /// The password hashing pool (every Argon2 hash and verification of the server).
    pub hasher: Hasher,
    /// Registration throttle, per client address.
    pub register_throttle: Throttle,
    /// REST write rate, per user (`rest_writes_per_second`, see `api::Auth`).
    pub rest_writes: crate::rate::UserBuckets,
    /// Group rooms created, per user id, per hour (`rooms_per_hour`).
    pub room_throttle: Throttle,
}
