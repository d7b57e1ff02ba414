//! Bodies of the REST calls that have no WebSocket frame (accounts, the notification inbox).

use crate::db::notifications::Notification;
use crate::db::users::User;
use serde::Serialize;

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
