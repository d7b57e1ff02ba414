//! The support service on an in-memory store and an in-process hub (no HTTP server).

use crate::chat::Actor;
use crate::hub::Endpoint;
use crate::protocol::chat::{GetMessages, MarkRead};
use crate::testkit::{err_code, kit, kit_with, send, Options};

#[tokio::test]
async fn a_guest_gets_one_support_room_on_first_send_and_staff_are_told() {
    let kit = kit().await;
    let sam = kit.staff("sam").await;
    let console = Actor::staff(&sam);
    let mut sam_admin = kit.listen_as(Endpoint::Admin, sam.id, true);
    let mut sam_chat = kit.listen_as(Endpoint::Chat, sam.id, true);

    let (guest, token) = kit.support.create_guest(Some("10.0.0.1")).await.unwrap();
    assert!(guest.user.is_guest);
    assert!(guest.user.username.starts_with("~guest-"));
    assert!(!token.is_empty());
    assert!(kit.support.staff_rooms(&console).await.unwrap().is_empty());

    let (first, new) = kit
        .support
        .send(&guest.user, send("my order is late"))
        .await
        .unwrap();
    assert!(new);
    let room_id = first.room_id;

    let announced = sam_admin.next().await;
    assert_eq!(announced["type"], "room_updated");
    assert_eq!(announced["room"]["id"], room_id);
    assert_eq!(announced["room"]["kind"], "support");
    // The message follows on the console, after the room it belongs to.
    let pushed = sam_admin.next().await;
    assert_eq!(pushed["type"], "message");
    assert_eq!(pushed["message"]["id"], first.id);
    sam_chat.assert_quiet();

    let (second, _) = kit.support.send(&guest.user, send("hello?")).await.unwrap();
    assert_eq!(second.room_id, room_id, "one room per visitor");
    // No second announcement: only the message.
    assert_eq!(sam_admin.next().await["type"], "message");
    sam_admin.assert_quiet();

    let rooms = kit.support.staff_rooms(&console).await.unwrap();
    assert_eq!(
        rooms.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![room_id]
    );
    assert_eq!(rooms[0].unread_count, 2);
    let one = kit.support.staff_room(&console, room_id).await.unwrap();
    assert_eq!(one.id, room_id);
    let history = kit
        .support
        .staff_messages(&console, room_id, GetMessages::default())
        .await
        .unwrap();
    let ids: Vec<i64> = history.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![first.id, second.id]);

    // A second visitor gets a room of their own.
    let (other, _) = kit.support.create_guest(Some("10.0.0.2")).await.unwrap();
    let (theirs, _) = kit.support.send(&other.user, send("hi")).await.unwrap();
    assert_ne!(theirs.room_id, room_id);
    assert_eq!(kit.support.staff_rooms(&console).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_staff_reply_reaches_the_visitor_support_socket() {
    let kit = kit().await;
    let sam = kit.staff("sam").await;
    let console = Actor::staff(&sam);
    let (guest, _) = kit.support.create_guest(None).await.unwrap();
    let visitor = guest.user;
    let (asked, _) = kit.support.send(&visitor, send("help")).await.unwrap();
    let mut visitor_support = kit.listen(Endpoint::Support, visitor.id);
    let mut visitor_chat = kit.listen(Endpoint::Chat, visitor.id);

    let (reply, new) = kit
        .support
        .staff_send(&console, asked.room_id, send("on it"))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(reply.room_id, asked.room_id);
    let pushed = visitor_support.next().await;
    assert_eq!(pushed["type"], "message");
    assert_eq!(pushed["message"]["id"], reply.id);
    assert_eq!(pushed["message"]["content"], "on it");
    assert_eq!(pushed["message"]["sender"]["username"], "sam");
    visitor_chat.assert_quiet();

    let page = kit
        .support
        .messages(&visitor, GetMessages::default())
        .await
        .unwrap();
    let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![asked.id, reply.id]);
    // The staff's shared read marker.
    let marked = kit
        .support
        .staff_mark_read(&console, asked.room_id, MarkRead::default())
        .await
        .unwrap();
    assert_eq!(
        (marked.last_read_message_id, marked.unread_count),
        (reply.id, 0)
    );
}

#[tokio::test]
async fn staff_operations_refuse_a_non_staff_actor() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let sam = kit.staff("sam").await;
    let (guest, _) = kit.support.create_guest(None).await.unwrap();
    let (m, _) = kit.support.send(&guest.user, send("help")).await.unwrap();
    let room = m.room_id;

    // A plain user, a plain user "from the console", and staff not at the console.
    for actor in [Actor::user(&alice), Actor::staff(&alice), Actor::user(&sam)] {
        let s = &kit.support;
        assert_eq!(err_code(s.staff_rooms(&actor).await), "forbidden");
        assert_eq!(err_code(s.staff_room(&actor, room).await), "forbidden");
        let page = s.staff_messages(&actor, room, GetMessages::default()).await;
        assert_eq!(err_code(page), "forbidden");
        assert_eq!(
            err_code(s.staff_send(&actor, room, send("x")).await),
            "forbidden"
        );
        let mark = s.staff_mark_read(&actor, room, MarkRead::default()).await;
        assert_eq!(err_code(mark), "forbidden");
    }
    // Nothing was written.
    let page = kit
        .support
        .messages(&guest.user, GetMessages::default())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
}

#[tokio::test]
async fn staff_operations_on_a_room_that_is_not_a_support_room_are_not_found() {
    let kit = kit().await;
    let sam = kit.staff("sam").await;
    let alice = kit.user("alice").await;
    let console = Actor::staff(&sam);
    // Sam is even a member of this group room: the console still only sees support rooms.
    let group = kit.room(&alice, "Team", &["sam"]).await;
    let unknown = group.id + 1000;

    for room in [group.id, unknown] {
        let s = &kit.support;
        assert_eq!(err_code(s.staff_room(&console, room).await), "not_found");
        let page = s
            .staff_messages(&console, room, GetMessages::default())
            .await;
        assert_eq!(err_code(page), "not_found");
        assert_eq!(
            err_code(s.staff_send(&console, room, send("x")).await),
            "not_found"
        );
        let mark = s.staff_mark_read(&console, room, MarkRead::default()).await;
        assert_eq!(err_code(mark), "not_found");
    }
    let history = kit
        .chat
        .get_messages(&Actor::user(&alice), group.id, GetMessages::default())
        .await
        .unwrap();
    assert!(history.messages.is_empty());
}

#[tokio::test]
async fn new_guests_are_limited_per_address() {
    let kit = kit_with(Options {
        guests_per_window: 2,
        ..Options::default()
    })
    .await;
    kit.support.create_guest(Some("10.0.0.1")).await.unwrap();
    kit.support.create_guest(Some("10.0.0.1")).await.unwrap();
    let third = kit.support.create_guest(Some("10.0.0.1")).await;
    assert_eq!(err_code(third), "rate_limited");
    kit.support.create_guest(Some("10.0.0.2")).await.unwrap();
}
