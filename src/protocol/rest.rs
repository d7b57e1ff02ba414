//! Bodies of the REST calls that have no WebSocket frame (accounts, the notification inbox).

use crate::db::notifications::Notification;
use crate::db::users::User;
use serde::Serialize;

/// `GET /api/health` → `{status, db, bus, version, uptime_s, connections}` (503 when the
/// database takes no writes).
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `down`: whether the database takes writes.
    pub db: &'static str,
    /// `none` (one node, no bus), `ok` or `down`.
    pub bus: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Open WebSockets.
    pub connections: usize,
}

/// `GET /api/auth/me` → `{user}`
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    /// The caller.
    pub user: User,
}

/// `GET /api/notifications` → `{notifications}`
#[derive(Debug, Clone, Serialize)]
pub struct NotificationList {
    /// Newest first.
    pub notifications: Vec<Notification>,
}

/// `POST /api/notifications/{id}/read` → `{notification}`
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRead {
    /// The notification, now read.
    pub notification: Notification,
}

/// `POST /api/notifications/read-all` → `{updated}`
#[derive(Debug, Clone, Serialize)]
pub struct AllRead {
    /// How many were unread.
    pub updated: usize,
}
