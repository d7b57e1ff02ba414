//! Task request bodies. The task id of `get_task` and `cancel_task` is an id (see
//! [`super::Ids`]).

use serde::Deserialize;
use serde_json::Value;

/// `start_task {kind, params}`
#[derive(Debug, Clone, Deserialize)]
pub struct StartTask {
    /// Kind name.
    pub kind: String,
    /// Kind-specific parameters (an object; null or absent means `{}`).
    #[serde(default)]
    pub params: Value,
}

/// `get_tasks {status?, limit?}`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetTasks {
    /// Only tasks in this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
}
