//! On a node of a cluster: publishes every stored message, from any node, to this node's
//! sockets, in id order.
//!
//! One node's writer cannot publish to another node's sockets in id order: two nodes commit
//! messages 104 and 105 (in that order, see `db::pg::chat::insert_message`), but their pushes
//! may reach a third node the other way round, and a client that saw 105 first and then lost
//! its connection would resume after 105 and never see 104. So on a cluster no writer publishes
//! messages; every node follows the `messages` table itself: whenever the message clock moves
//! (this node's writer committed, another node said so through the event log) and at least every
//! [`POLL`], it reads the messages after the last one it published, in id order, and publishes
//! each (serialized once) to the sockets of its room's members on this node. Each socket sees
//! each message once, in id order, whichever node stored it.

use super::audiences;
use crate::db::chat::{Message, RoomKind};
use crate::db::store::Store;
use crate::hub::Hub;
use crate::protocol::ServerMsg;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest the follower waits without reading (when the clock does not move).
pub const POLL: Duration = Duration::from_millis(500);
/// Messages read at once.
const BATCH: i64 = 500;

/// Follows `messages` from after id `last`, forever.
pub async fn follow(store: Store, hub: Arc<dyn Hub>, mut last: i64) {
    let mut clock = hub.message_clock().subscribe();
    loop {
        let _ = tokio::time::timeout(POLL, clock.changed()).await;
        clock.borrow_and_update();
        loop {
            let after = last;
            let read = store
                .read(move |tx| {
                    let messages = tx.messages_after(after, BATCH)?;
                    let mut rooms: HashMap<i64, Option<(RoomKind, Vec<i64>)>> = HashMap::new();
                    for m in &messages {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            rooms.entry(m.room_id)
                        {
                            slot.insert(match tx.room_info(m.room_id)? {
                                Some(info) => Some((info.kind, tx.member_ids(m.room_id)?)),
                                None => None,
                            });
                        }
                    }
                    Ok((messages, rooms))
                })
                .await;
            let (messages, rooms) = match read {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "message follower: read failed");
                    break;
                }
            };
            let full = messages.len() as i64 == BATCH;
            for message in messages {
                last = message.id;
                publish(&*hub, &rooms, message);
            }
            if !full {
                break;
            }
        }
    }
}

fn publish(hub: &dyn Hub, rooms: &HashMap<i64, Option<(RoomKind, Vec<i64>)>>, message: Message) {
    let Some(Some((kind, members))) = rooms.get(&message.room_id) else {
        return;
    };
    let frame = ServerMsg::Message { message }.frame(None);
    for a in audiences(*kind, members.clone(), None) {
        hub.publish_local(&a, frame.clone());
    }
}
