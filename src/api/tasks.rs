//! REST mirror of `/ws/tasks/`.

use super::{Auth, JsonBody};
use crate::error::AppError;
use crate::state::AppState;
use crate::tasks::{self, TaskResult};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

type Res = Result<HttpResponse, AppError>;
type State = web::Data<AppState>;

async fn start(state: State, who: Auth, body: JsonBody<tasks::StartTask>) -> Res {
    let task = tasks::start(&state, &who.0.user, body.0).await?;
    Ok(HttpResponse::Accepted().json(json!({ "task": task })))
}

async fn list(state: State, who: Auth, q: web::Query<tasks::GetTasks>) -> Res {
    let list = tasks::list(&state, &who.0.user, q.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "tasks": list })))
}

async fn get(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let task = tasks::get(&state, &who.0.user, tasks::TaskRef { task_id: *id }).await?;
    Ok(HttpResponse::Ok().json(json!({ "task": task })))
}

async fn cancel(state: State, who: Auth, id: web::Path<i64>) -> Res {
    let task_id = tasks::cancel(&state, &who.0.user, tasks::TaskRef { task_id: *id }).await?;
    Ok(HttpResponse::Accepted().json(json!({ "task_id": task_id })))
}

/// `?format=json|csv&type=`
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
    let req = tasks::TaskRef { task_id: *id };
    Ok(
        match tasks::result(&state, &who.0.user, req, csv, q.number_type.as_deref()).await? {
            TaskResult::Json(v) => HttpResponse::Ok().json(v),
            TaskResult::Csv(text) => HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"task-{}.csv\"", *id),
                ))
                .body(text),
        },
    )
}

/// Registers the task routes. `POST /api/tasks` takes bodies up to `max_task_body_bytes`:
/// a `validate_numbers` list of 100000 numbers is over a megabyte.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/tasks")
            .app_data(super::LargeBody)
            .route(web::post().to(start))
            .route(web::get().to(list)),
    )
    .route("/api/tasks/{id}", web::get().to(get))
    .route("/api/tasks/{id}/cancel", web::post().to(cancel))
    .route("/api/tasks/{id}/result", web::get().to(result));
}
