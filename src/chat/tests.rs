//! The chat service on an in-memory store and an in-process hub (no HTTP server): access rules,
//! rooms, messages, pushes and the long-poll.

use crate::chat::{Actor, MAX_CONTENT_CHARS};
use crate::hub::Endpoint;
use crate::protocol::chat::{
    CreateRoom, EditMessage, GetMessages, MarkRead, SendMessage, Sync, Typing,
};
use crate::testkit::{self, err, err_code, kit, kit_with, send, Options};
use std::time::Duration;

fn group(name: &str, is_public: bool, members: &[&str]) -> CreateRoom {
    CreateRoom {
        name: name.into(),
        is_public,
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

fn with_client_id(content: &str, client_id: &str) -> SendMessage {
    SendMessage {
        content: content.into(),
        client_id: Some(client_id.into()),
    }
}

fn page(before: Option<i64>, after: Option<i64>, limit: i64) -> GetMessages {
    GetMessages {
        before,
        after,
        limit: Some(limit),
    }
}

fn ids(messages: &[crate::db::chat::Message]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn members_read_and_write_and_others_get_not_found() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let carol = kit.user("carol").await;
    let room = kit.room(&alice, "Private", &["bob"]).await;
    let (bob_a, carol_a) = (Actor::user(&bob), Actor::user(&carol));

    assert_eq!(
        kit.chat.get_room(&bob_a, room.id).await.unwrap().id,
        room.id
    );
    let (m, new) = kit
        .chat
        .send_message(&bob_a, room.id, send("from bob"))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(m.room_id, room.id);

    // A private room is invisible to a non-member, for reads and writes alike.
    assert_eq!(
        err_code(kit.chat.get_room(&carol_a, room.id).await),
        "not_found"
    );
    let read = kit
        .chat
        .get_messages(&carol_a, room.id, GetMessages::default())
        .await;
    assert_eq!(err_code(read), "not_found");
    let write = kit.chat.send_message(&carol_a, room.id, send("hi")).await;
    assert_eq!(err_code(write), "not_found");
    let typing = Typing { is_typing: true };
    assert_eq!(
        err_code(kit.chat.typing(&carol_a, room.id, typing).await),
        "not_found"
    );
    // An unknown room reads as not_found too.
    assert_eq!(
        err_code(kit.chat.get_room(&bob_a, room.id + 1000).await),
        "not_found"
    );
}

#[tokio::test]
async fn writing_a_public_room_without_joining_is_forbidden() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let carol = kit.user("carol").await;
    let carol_a = Actor::user(&carol);
    let room = kit
        .chat
        .create_room(&Actor::user(&alice), group("Lobby", true, &[]))
        .await
        .unwrap();

    // Reading a public room one has not joined is still not_found (rooms are read by members).
    assert_eq!(
        err_code(kit.chat.get_room(&carol_a, room.id).await),
        "not_found"
    );
    let write = kit.chat.send_message(&carol_a, room.id, send("hi")).await;
    assert_eq!(err_code(write), "forbidden");
    let typing = Typing { is_typing: true };
    assert_eq!(
        err_code(kit.chat.typing(&carol_a, room.id, typing).await),
        "forbidden"
    );
    let mark = kit
        .chat
        .mark_read(&carol_a, room.id, MarkRead::default())
        .await;
    assert_eq!(err_code(mark), "forbidden");

    kit.chat.join_room(&carol_a, room.id).await.unwrap();
    let (m, _) = kit
        .chat
        .send_message(&carol_a, room.id, send("joined"))
        .await
        .unwrap();
    assert_eq!(m.sender.unwrap().id, carol.id);
}

#[tokio::test]
async fn staff_console_reads_and_writes_support_rooms_only() {
    let kit = kit().await;
    let sam = kit.staff("sam").await;
    let alice = kit.user("alice").await;
    let (guest, _) = kit.support.create_guest(Some("10.0.0.1")).await.unwrap();
    let (first, _) = kit
        .support
        .send(&guest.user, send("help please"))
        .await
        .unwrap();
    let support_room = first.room_id;
    let group_room = kit.room(&alice, "Alice only", &[]).await;

    let console = Actor::staff(&sam);
    assert!(console.staff_console);
    let history = kit
        .chat
        .get_messages(&console, support_room, GetMessages::default())
        .await
        .unwrap();
    assert_eq!(ids(&history.messages), vec![first.id]);
    let (reply, _) = kit
        .chat
        .send_message(&console, support_room, send("how can I help?"))
        .await
        .unwrap();
    assert_eq!(reply.sender.unwrap().id, sam.id);

    // The console grants nothing outside support rooms.
    let group_read = kit.chat.get_room(&console, group_room.id).await;
    assert_eq!(err_code(group_read), "not_found");
    // Staff acting as themselves (not from the console) are not members of the support room.
    let plain = kit
        .chat
        .get_messages(&Actor::user(&sam), support_room, GetMessages::default())
        .await;
    assert_eq!(err_code(plain), "not_found");
    // `Actor::staff` of a non-staff user is not a console.
    let fake = Actor::staff(&alice);
    assert!(!fake.staff_console);
    let fake_read = kit
        .chat
        .get_messages(&fake, support_room, GetMessages::default())
        .await;
    assert_eq!(err_code(fake_read), "not_found");
}

#[tokio::test]
async fn create_room_pushes_room_updated_to_the_other_members() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let carol = kit.user("carol").await;
    let mut alice_chat = kit.listen(Endpoint::Chat, alice.id);
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);
    let mut bob_tasks = kit.listen(Endpoint::Tasks, bob.id);
    let mut carol_chat = kit.listen(Endpoint::Chat, carol.id);

    let room = kit
        .chat
        .create_room(&Actor::user(&alice), group("  Plans  ", false, &["BOB"]))
        .await
        .unwrap();
    assert_eq!(room.name, "Plans");
    assert_eq!(room.member_count, 2);

    let pushed = bob_chat.next().await;
    assert_eq!(pushed["type"], "room_updated");
    assert_eq!(pushed["room"]["id"], room.id);
    assert_eq!(pushed["room"]["name"], "Plans");
    assert_eq!(pushed["room"]["member_count"], 2);
    assert_eq!(pushed["request_id"], serde_json::Value::Null);
    // Not the creator, not a non-member, not another endpoint.
    alice_chat.assert_quiet();
    carol_chat.assert_quiet();
    bob_tasks.assert_quiet();
    bob_chat.assert_quiet();
}

#[tokio::test]
async fn create_room_with_an_unknown_member_fails_and_creates_nothing() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    kit.user("bob").await;
    let actor = Actor::user(&alice);
    let e = err(kit
        .chat
        .create_room(&actor, group("Plans", false, &["bob", "nobody"]))
        .await);
    assert_eq!(e.code(), "validation_failed");
    let why = &e.fields().expect("field errors")["members"];
    assert!(why.contains("nobody") && !why.contains("bob"), "{why}");
    assert!(kit.chat.room_list(&actor).await.unwrap().is_empty());

    let blank = kit.chat.create_room(&actor, group("   ", false, &[])).await;
    assert_eq!(
        err(blank).fields().unwrap().keys().collect::<Vec<_>>(),
        ["name"]
    );
}

#[tokio::test]
async fn rooms_per_hour_limit_answers_rate_limited_and_a_refused_create_gives_its_place_back() {
    let kit = kit_with(Options {
        rooms_per_hour: 2,
        ..Options::default()
    })
    .await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let actor = Actor::user(&alice);

    // Refused creates (unknown member) do not count: both real ones below fit in the limit.
    for _ in 0..3 {
        let refused = kit
            .chat
            .create_room(&actor, group("X", false, &["nobody"]))
            .await;
        assert_eq!(err_code(refused), "validation_failed");
    }
    kit.chat
        .create_room(&actor, group("One", false, &[]))
        .await
        .unwrap();
    kit.chat
        .create_room(&actor, group("Two", false, &[]))
        .await
        .unwrap();
    let e = err(kit
        .chat
        .create_room(&actor, group("Three", false, &[]))
        .await);
    assert_eq!(e.code(), "rate_limited");
    match e {
        crate::error::AppError::RateLimited { retry_after, .. } => {
            assert!(retry_after > Duration::ZERO && retry_after <= crate::chat::ROOMS_WINDOW)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(kit.chat.room_list(&actor).await.unwrap().len(), 2);
    // The limit is per user.
    kit.chat
        .create_room(&Actor::user(&bob), group("Bob's", false, &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn send_message_stores_and_pushes_to_members() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let carol = kit.user("carol").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let mut alice_chat = kit.listen(Endpoint::Chat, alice.id);
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);
    let mut bob_support = kit.listen(Endpoint::Support, bob.id);
    let mut carol_chat = kit.listen(Endpoint::Chat, carol.id);

    let (m, new) = kit
        .chat
        .send_message(&Actor::user(&alice), room.id, send("hello\tbob\n"))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(m.content, "hello\tbob\n");
    assert_eq!(m.sender.as_ref().unwrap().username, "alice");

    let pushed = bob_chat.next().await;
    assert_eq!(pushed["type"], "message");
    assert_eq!(pushed["message"]["id"], m.id);
    assert_eq!(pushed["message"]["room_id"], room.id);
    assert_eq!(pushed["message"]["content"], "hello\tbob\n");
    assert_eq!(pushed["message"]["sender"]["username"], "alice");
    // The sender's own sockets hear it too (other tabs).
    assert_eq!(alice_chat.next().await["message"]["id"], m.id);
    carol_chat.assert_quiet();
    bob_support.assert_quiet();

    let stored = kit
        .chat
        .get_messages(&Actor::user(&bob), room.id, GetMessages::default())
        .await
        .unwrap();
    assert_eq!(ids(&stored.messages), vec![m.id]);
    assert_eq!(stored.messages[0].content, "hello\tbob\n");
}

#[tokio::test]
async fn a_repeated_client_id_answers_the_original_and_pushes_nothing() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let other_room = kit.room(&alice, "Other", &["bob"]).await;
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);
    let (a, b) = (Actor::user(&alice), Actor::user(&bob));

    let (first, new) = kit
        .chat
        .send_message(&a, room.id, with_client_id("once", "c-1"))
        .await
        .unwrap();
    assert!(new);
    assert_eq!(bob_chat.next().await["message"]["id"], first.id);

    let (again, new) = kit
        .chat
        .send_message(&a, room.id, with_client_id("twice?", "c-1"))
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.id, first.id);
    assert_eq!(again.content, "once");
    assert_eq!(again.client_id.as_deref(), Some("c-1"));
    bob_chat.assert_quiet();

    // The key is per sender and room.
    let (bobs, new) = kit
        .chat
        .send_message(&b, room.id, with_client_id("bob's", "c-1"))
        .await
        .unwrap();
    assert!(new);
    assert_ne!(bobs.id, first.id);
    let (elsewhere, new) = kit
        .chat
        .send_message(&a, other_room.id, with_client_id("other room", "c-1"))
        .await
        .unwrap();
    assert!(new);
    assert_ne!(elsewhere.id, first.id);

    let history = kit
        .chat
        .get_messages(&a, room.id, GetMessages::default())
        .await
        .unwrap();
    assert_eq!(ids(&history.messages), vec![first.id, bobs.id]);
}

#[tokio::test]
async fn content_and_client_id_rules() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let room = kit.room(&alice, "Notes", &[]).await;
    let a = Actor::user(&alice);
    let longest = "é".repeat(MAX_CONTENT_CHARS);
    let too_long = "é".repeat(MAX_CONTENT_CHARS + 1);

    for bad in [
        "",
        "   \n\t",
        "\u{200b}\u{200b}",
        "bell\u{7}",
        too_long.as_str(),
    ] {
        let e = err(kit.chat.send_message(&a, room.id, send(bad)).await);
        assert_eq!(e.code(), "validation_failed", "{bad:?}");
        assert!(e.fields().unwrap().contains_key("content"), "{bad:?}");
    }
    for bad_id in [String::new(), "x".repeat(65)] {
        let e = err(kit
            .chat
            .send_message(&a, room.id, with_client_id("ok", &bad_id))
            .await);
        assert!(e.fields().unwrap().contains_key("client_id"), "{bad_id:?}");
    }
    let (m, _) = kit
        .chat
        .send_message(&a, room.id, with_client_id(&longest, &"x".repeat(64)))
        .await
        .unwrap();
    assert_eq!(m.content.chars().count(), MAX_CONTENT_CHARS);
    // Only the valid send was stored.
    let history = kit
        .chat
        .get_messages(&a, room.id, GetMessages::default())
        .await
        .unwrap();
    assert_eq!(ids(&history.messages), vec![m.id]);
    // Edits follow the same content rules.
    let edit = kit
        .chat
        .edit_message(
            &a,
            m.id,
            EditMessage {
                content: " ".into(),
            },
        )
        .await;
    assert_eq!(err_code(edit), "validation_failed");
}

#[tokio::test]
async fn only_the_sender_edits_and_deletes_and_a_deleted_message_cannot_be_edited() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let carol = kit.user("carol").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let m = kit.say(&alice, room.id, "draft").await;
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);
    let (a, b, c) = (Actor::user(&alice), Actor::user(&bob), Actor::user(&carol));
    let edit = |s: &str| EditMessage { content: s.into() };

    assert_eq!(
        err_code(kit.chat.edit_message(&b, m.id, edit("mine")).await),
        "forbidden"
    );
    assert_eq!(
        err_code(kit.chat.delete_message(&b, m.id).await),
        "forbidden"
    );
    // A message in a room one cannot read does not exist for them.
    assert_eq!(
        err_code(kit.chat.edit_message(&c, m.id, edit("x")).await),
        "not_found"
    );
    assert_eq!(
        err_code(kit.chat.delete_message(&c, m.id).await),
        "not_found"
    );
    assert_eq!(
        err_code(kit.chat.delete_message(&a, m.id + 1000).await),
        "not_found"
    );
    bob_chat.assert_quiet();

    let edited = kit
        .chat
        .edit_message(&a, m.id, edit("final"))
        .await
        .unwrap();
    assert_eq!(edited.content, "final");
    assert!(edited.edited_at.is_some());
    let pushed = bob_chat.next().await;
    assert_eq!(pushed["type"], "message_updated");
    assert_eq!(pushed["message"]["content"], "final");

    assert_eq!(
        kit.chat.delete_message(&a, m.id).await.unwrap(),
        (room.id, m.id)
    );
    let pushed = bob_chat.next().await;
    assert_eq!(pushed["type"], "message_deleted");
    assert_eq!(pushed["message_id"], m.id);
    assert_eq!(pushed["room_id"], room.id);

    assert_eq!(
        err_code(kit.chat.edit_message(&a, m.id, edit("back")).await),
        "conflict"
    );
    // Deleting again answers the same and pushes nothing.
    assert_eq!(
        kit.chat.delete_message(&a, m.id).await.unwrap(),
        (room.id, m.id)
    );
    bob_chat.assert_quiet();
    let history = kit
        .chat
        .get_messages(&b, room.id, GetMessages::default())
        .await
        .unwrap();
    assert!(history.messages[0].deleted);
    assert_eq!(history.messages[0].content, "");
}

#[tokio::test]
async fn mark_read_answers_the_marker_and_pushes_read_receipt() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let other = kit.room(&alice, "Other", &["bob"]).await;
    let m1 = kit.say(&alice, room.id, "one").await;
    let m2 = kit.say(&alice, room.id, "two").await;
    let stray = kit.say(&alice, other.id, "elsewhere").await;
    let mut alice_chat = kit.listen(Endpoint::Chat, alice.id);
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);
    let b = Actor::user(&bob);

    let partial = kit
        .chat
        .mark_read(
            &b,
            room.id,
            MarkRead {
                message_id: Some(m1.id),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (partial.last_read_message_id, partial.unread_count),
        (m1.id, 1)
    );
    let receipt = alice_chat.next().await;
    assert_eq!(receipt["type"], "read_receipt");
    assert_eq!(receipt["room_id"], room.id);
    assert_eq!(receipt["user_id"], bob.id);
    assert_eq!(receipt["last_read_message_id"], m1.id);
    assert_eq!(bob_chat.next().await["type"], "read_receipt");

    let all = kit
        .chat
        .mark_read(&b, room.id, MarkRead::default())
        .await
        .unwrap();
    assert_eq!((all.last_read_message_id, all.unread_count), (m2.id, 0));
    assert_eq!(alice_chat.next().await["last_read_message_id"], m2.id);
    // Never backwards.
    let back = kit
        .chat
        .mark_read(
            &b,
            room.id,
            MarkRead {
                message_id: Some(m1.id),
            },
        )
        .await
        .unwrap();
    assert_eq!(back.last_read_message_id, m2.id);
    // A message of another room is refused.
    let e = err(kit
        .chat
        .mark_read(
            &b,
            room.id,
            MarkRead {
                message_id: Some(stray.id),
            },
        )
        .await);
    assert!(e.fields().unwrap().contains_key("message_id"));
}

#[tokio::test]
async fn typing_reaches_the_other_members_but_not_the_typist() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let mut alice_tab1 = kit.listen(Endpoint::Chat, alice.id);
    let mut alice_tab2 = kit.listen(Endpoint::Chat, alice.id);
    let mut bob_chat = kit.listen(Endpoint::Chat, bob.id);

    kit.chat
        .typing(&Actor::user(&alice), room.id, Typing { is_typing: true })
        .await
        .unwrap();
    let pushed = bob_chat.next().await;
    assert_eq!(pushed["type"], "typing");
    assert_eq!(pushed["room_id"], room.id);
    assert_eq!(pushed["user"]["username"], "alice");
    assert_eq!(pushed["is_typing"], true);
    alice_tab1.assert_quiet();
    alice_tab2.assert_quiet();
    // Nothing is stored.
    let history = kit
        .chat
        .get_messages(&Actor::user(&bob), room.id, GetMessages::default())
        .await
        .unwrap();
    assert!(history.messages.is_empty());
}

#[tokio::test]
async fn sync_long_poll_wakes_when_a_message_is_stored() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let bob = kit.user("bob").await;
    let room = kit.room(&alice, "Plans", &["bob"]).await;
    let before = kit.say(&alice, room.id, "old").await;

    let chat = kit.chat.clone();
    let b = Actor::user(&bob);
    let poll = tokio::spawn(async move {
        let req = Sync {
            after: before.id,
            limit: None,
            wait: Some(30),
        };
        chat.sync(&b, req).await
    });
    // Once the poll has subscribed to new messages, a message stored from then on wakes it.
    let subscribed = async {
        while kit.chat.latest.receiver_count() == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(testkit::PUSH_TIMEOUT, subscribed)
        .await
        .expect("the long-poll subscribes");
    let new = kit.say(&alice, room.id, "new").await;

    // Well before its 30 s wait ends.
    let page = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long-poll answers once a message is stored")
        .unwrap()
        .unwrap();
    assert_eq!(ids(&page.messages), vec![new.id]);
    assert!(!page.has_more);

    // Without a new message, a short wait ends empty.
    let empty = kit
        .chat
        .sync(
            &Actor::user(&bob),
            Sync {
                after: new.id,
                limit: None,
                wait: Some(1),
            },
        )
        .await
        .unwrap();
    assert!(empty.messages.is_empty());
    let too_long = Sync {
        after: 0,
        limit: None,
        wait: Some(31),
    };
    assert_eq!(
        err_code(kit.chat.sync(&Actor::user(&bob), too_long).await),
        "validation_failed"
    );
}

#[tokio::test]
async fn get_messages_pages_before_and_after() {
    let kit = kit().await;
    let alice = kit.user("alice").await;
    let room = kit.room(&alice, "Log", &[]).await;
    let mut m = Vec::new();
    for i in 1..=5 {
        m.push(kit.say(&alice, room.id, &format!("m{i}")).await.id);
    }
    let a = Actor::user(&alice);
    let get = |before, after, limit| {
        kit.chat
            .get_messages(&a, room.id, page(before, after, limit))
    };

    let latest = get(None, None, 2).await.unwrap();
    assert_eq!(
        (ids(&latest.messages), latest.has_more),
        (vec![m[3], m[4]], true)
    );
    let older = get(Some(m[3]), None, 2).await.unwrap();
    assert_eq!(
        (ids(&older.messages), older.has_more),
        (vec![m[1], m[2]], true)
    );
    let oldest = get(Some(m[1]), None, 2).await.unwrap();
    assert_eq!(
        (ids(&oldest.messages), oldest.has_more),
        (vec![m[0]], false)
    );
    let newer = get(None, Some(m[0]), 2).await.unwrap();
    assert_eq!(
        (ids(&newer.messages), newer.has_more),
        (vec![m[1], m[2]], true)
    );
    let newest = get(None, Some(m[2]), 5).await.unwrap();
    assert_eq!(
        (ids(&newest.messages), newest.has_more),
        (vec![m[3], m[4]], false)
    );
    assert_eq!(newest.room_id, room.id);

    assert_eq!(
        err_code(get(Some(m[3]), Some(m[0]), 2).await),
        "validation_failed"
    );
    assert_eq!(err_code(get(None, None, 0).await), "validation_failed");
    assert_eq!(err_code(get(None, None, 101).await), "validation_failed");
}
