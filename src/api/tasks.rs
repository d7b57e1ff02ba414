//! `GET /api/tasks/{id}/result`, the one task call without a WebSocket frame (the task
//! operations themselves are declared in `ops`).

use super::Auth;
use crate::app::AppState;
use crate::error::AppError;
use crate::tasks::TaskResult;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

type Res = Result<HttpResponse, AppError>;
type State = web::Data<AppState>;

#[derive(Deserialize)]
struct ResultQuery {
    format: Option<String>,
    /// Only the rows of this number type (`validate_numbers`).
    #[serde(rename = "type")]
    number_type: Option<String>,
}

async fn result(state: State, who: Auth, id: web::Path<i64>, q: web::Query<ResultQuery>) -> Res {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(AppError::field("format", "json or csv")),
    };
    let id = *id;
    Ok(
        match state
            .tasks
            .result(&who.0.user, id, csv, q.number_type.as_deref())
            .await?
        {
            TaskResult::Json(v) => HttpResponse::Ok().json(v),
            TaskResult::Csv(text) => HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"task-{id}.csv\""),
                ))
                .body(text),
        },
    )
}

/// Registers the task routes. `POST /api/tasks` takes bodies up to `max_task_body_bytes`:
/// a `validate_numbers` list of 100000 numbers is over a megabyte.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/tasks/{id}/result", web::get().to(result));
}
