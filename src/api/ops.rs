//! The REST transport of the declared operations (`ops::rest_routes`): one generic handler
//! authenticates, takes a write from the caller's rate, reads the path ids and the body, runs
//! the operation and answers its reply without `type`.

use super::{is_counted_write, read_body, take_write};
use crate::app::AppState;
use crate::auth::credential::{credential, Via};
use crate::error::AppError;
use crate::hub::Endpoint;
use crate::ops::{self, Method, RestCall, RestRoute, Source, Status};
use crate::protocol::Ids;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// A path id: a positive integer, or the resource does not exist (`not_found`, as for any
/// other path that names nothing).
fn path_id(req: &HttpRequest, name: &str) -> Result<Option<i64>, AppError> {
    match req.match_info().get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(AppError::not_found("resource")),
        },
    }
}

fn path_ids(req: &HttpRequest) -> Result<Ids, AppError> {
    Ok(Ids {
        room_id: path_id(req, "room_id")?,
        message_id: path_id(req, "message_id")?,
        task_id: path_id(req, "task_id")?,
    })
}

async fn serve(
    route: RestRoute,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let mut payload: Payload = payload.into_inner();
    let app = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("no state".into()))?;
    let cred = credential(&req, Via::Rest, route.endpoint == Endpoint::Support);
    let who = app.auth.require(cred).await?;
    if is_counted_write(&req) {
        take_write(&app, who.user.id)?;
    }
    let ids = path_ids(&req)?;
    let body = match route.source {
        Source::Json | Source::OptJson => {
            read_body(&req, &mut payload, app.config.max_message_bytes).await?
        }
        Source::LargeJson => read_body(&req, &mut payload, app.config.max_task_body_bytes).await?,
        Source::Query | Source::Nothing => None,
    };
    let reply = (route.call)(RestCall {
        app: app.into_inner(),
        user: who.user,
        ids,
        body: body.map(Vec::from),
        query: req.query_string().to_string(),
        source: route.source,
    })
    .await?;
    let Some(msg) = reply.msg else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let status = match reply.status {
        Status::Ok => StatusCode::OK,
        Status::Created => StatusCode::CREATED,
        Status::Accepted => StatusCode::ACCEPTED,
    };
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(msg.body()?))
}

/// Registers the REST route of every declared operation, in declaration order.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in ops::table::rest_routes() {
        let method = match route.method {
            Method::Get => web::get(),
            Method::Post => web::post(),
            Method::Patch => web::patch(),
            Method::Delete => web::delete(),
        };
        cfg.route(
            route.path,
            method.to(move |req: HttpRequest, payload: web::Payload| serve(route, req, payload)),
        );
    }
}
