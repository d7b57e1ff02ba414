//! The message writer: one thread that stores chat messages in batches (group commit).
//!
//! Sends that arrive while a batch is being committed are written together in the next
//! transaction, so under load one fsync covers many messages, and no send waits for a timer:
//! a lone message is committed at once. After the commit the thread publishes each new message
//! (in id order, so every socket sees a room's messages in order), wakes long-polls, and only
//! then answers the senders: a message is acknowledged only once it is durable.

use super::{access, audiences, Actor, Write};
use crate::db::chat::Message;
use crate::db::notifications::Notification;
use crate::db::store::{Store, Tx};
use crate::error::{AppError, AppResult};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::protocol::ServerMsg;
use crate::time::Timestamp;
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 256;

/// A validated send, waiting to be written.
pub struct SendJob {
    /// Who sends.
    pub actor: Actor,
    /// Where.
    pub room_id: i64,
    /// What.
    pub content: String,
    /// Idempotency key.
    pub client_id: Option<String>,
    /// Gets the stored message and whether it is new (false: a repeat of `client_id`).
    pub reply: oneshot::Sender<AppResult<(Message, bool)>>,
}

enum Job {
    Send(SendJob),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct MessageWriter {
    tx: mpsc::Sender<Job>,
}

/// What the writer thread needs.
pub struct WriterDeps {
    /// Database.
    pub store: Store,
    /// Fan-out.
    pub hub: Arc<dyn Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

impl MessageWriter {
    /// Starts the thread.
    pub fn start(deps: WriterDeps) -> std::io::Result<MessageWriter> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("hearth-message-writer".into())
            .spawn(move || run(deps, rx))?;
        Ok(MessageWriter { tx })
    }

    /// Queues a send; the reply arrives on the job's channel.
    pub fn submit(&self, job: SendJob) -> AppResult<()> {
        self.tx
            .send(Job::Send(job))
            .map_err(|_| AppError::Internal("message writer stopped".into()))
    }

    /// Resolves once every send queued before it is committed and answered.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn run(deps: WriterDeps, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut sends = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Send(s) => sends.push(s),
                Job::Flush(f) => flushes.push(f),
            }
            next = if sends.len() < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !sends.is_empty() {
            write_batch(&deps, sends);
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

/// One stored send: the job's reply channel, its outcome, and who must hear of it.
struct Done {
    reply: oneshot::Sender<AppResult<(Message, bool)>>,
    outcome: AppResult<(Message, bool)>,
    notify: Option<Vec<crate::hub::Audience>>,
    notes: Vec<Notification>,
}

fn write_batch(deps: &WriterDeps, jobs: Vec<SendJob>) {
    let result = deps.store.write_blocking(|tx| {
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            let outcome = store_one(tx, &job);
            let (outcome, notify, notes) = match outcome {
                Ok((m, true, aud, notes)) => (Ok((m, true)), Some(aud), notes),
                Ok((m, false, _, _)) => (Ok((m, false)), None, Vec::new()),
                Err(e) => (Err(e), None, Vec::new()),
            };
            done.push(Done {
                reply: job.reply,
                outcome,
                notify,
                notes,
            });
        }
        Ok(done)
    });
    match result {
        Ok(done) => {
            Metrics::inc(&deps.metrics.message_batches);
            let mut newest = 0;
            // Several nodes: every node's follower publishes messages, in id order.
            let publish = !deps.hub.is_cluster();
            for d in &done {
                if let (Ok((m, true)), Some(aud)) = (&d.outcome, &d.notify) {
                    if publish {
                        let frame = ServerMsg::Message { message: m.clone() }.frame(None);
                        for a in aud {
                            deps.hub.publish_bytes(a, frame.clone());
                        }
                    }
                    newest = newest.max(m.id);
                    Metrics::inc(&deps.metrics.messages_stored);
                }
                crate::notifications::publish(&*deps.hub, &d.notes);
            }
            if newest > 0 {
                deps.hub.messages_stored(newest);
            }
            for d in done {
                let _ = d.reply.send(d.outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "message batch failed");
            // The jobs were moved into the failed closure; their senders dropped, so each
            // waiting caller sees the channel close and answers `internal`.
        }
    }
}

fn store_one(
    tx: &dyn Tx,
    job: &SendJob,
) -> AppResult<(Message, bool, Vec<crate::hub::Audience>, Vec<Notification>)> {
    let room = access(tx, &job.actor, job.room_id, Write)?;
    if let Some(cid) = job.client_id.as_deref() {
        if let Some(existing) = tx.message_by_client_id(job.actor.user.id, job.room_id, cid)? {
            return Ok((existing, false, Vec::new(), Vec::new()));
        }
    }
    let message = tx.insert_message(
        job.room_id,
        &job.actor.user,
        &job.content,
        job.client_id.as_deref(),
        Timestamp::now(),
    )?;
    let members = tx.member_ids(job.room_id)?;
    let notes =
        crate::notifications::for_message(tx, room.kind, &members, &job.actor.user, &message)?;
    Ok((message, true, audiences(room.kind, members, None), notes))
}
