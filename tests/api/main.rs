//! Integration tests: the real server over real HTTP and WebSockets.

mod accounts;
mod chat;
mod chat_ops;
mod helpers;
mod hostile_auth;
mod hostile_ws;
mod methods;
mod people;
#[cfg(feature = "pg-tests")]
#[path = "../common/pg.rs"]
mod pg;
mod proxy;
mod quotas;
mod reliability;
mod support;
mod tasks;
mod ws_auth;
