//! The bus between nodes: a NATS connection carrying wake-ups, nothing else.
//!
//! After a node commits events to the log (`events` table), it publishes its node id on
//! [`SUBJECT`]; every other node, woken, reads the log from where it stopped. The bus carries no
//! data: a wake-up lost (the bus down, a slow consumer) only delays delivery until the next
//! poll of the log (see `cluster.rs`). The client reconnects by itself, forever, at most a second
//! apart, and a node starts even while NATS is down.

use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The subject wake-ups travel on.
pub const SUBJECT: &str = "hearth.events";

/// The state of the bus, as `/api/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusState {
    /// No bus: a node alone.
    None,
    /// Connected.
    Ok,
    /// Configured but not connected (the node still serves its clients and stores
    /// everything; other nodes' events reach it by polling the log).
    Down,
}

impl BusState {
    /// The name in `/api/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            BusState::None => "none",
            BusState::Ok => "ok",
            BusState::Down => "down",
        }
    }
}

/// A connection to NATS.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    node: i64,
}

impl Bus {
    /// Connects to the NATS servers at `urls` (`nats://host:port`, any number, one cluster) and
    /// subscribes to wake-ups: `wake` is notified for every wake-up from another node. Returns
    /// at once even if no server answers yet (the client keeps trying).
    pub async fn connect(urls: &[String], node: i64, wake: Arc<Notify>) -> Result<Bus, String> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("hearth-{node}"))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(5))
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((50u64 << attempt.min(5)).min(1000))
            })
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("bus connected"),
                    async_nats::Event::Disconnected => tracing::warn!("bus disconnected"),
                    other => tracing::info!(event = %other, "bus"),
                }
            })
            .connect(urls)
            .await
            .map_err(|e| format!("bus {}: {e}", urls.join(",")))?;
        let mut sub = client
            .subscribe(SUBJECT)
            .await
            .map_err(|e| format!("bus subscribe: {e}"))?;
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let from = <[u8; 8]>::try_from(&msg.payload[..])
                    .ok()
                    .map(i64::from_be_bytes);
                if from != Some(node) {
                    wake.notify_one();
                }
            }
        });
        Ok(Bus { client, node })
    }

    /// Tells the other nodes that the log has new events. Never waits for the network: when
    /// the bus is down the wake-up is dropped (the others poll).
    pub async fn wake(&self) {
        if self.state() == BusState::Ok {
            let payload = Bytes::copy_from_slice(&self.node.to_be_bytes());
            if let Err(e) = self.client.publish(SUBJECT, payload).await {
                tracing::debug!(error = %e, "bus wake-up not sent");
            }
        }
    }

    /// Connected or not.
    pub fn state(&self) -> BusState {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => BusState::Ok,
            _ => BusState::Down,
        }
    }
}
