//! Every operation of the contract, declared once (see [`crate::operations!`]): the WebSocket
//! dispatch and the REST routes are generated from this table.

use crate::protocol::chat::{
    AddMember, CreateRoom, EditMessage, GetMessages, MarkRead, NoBody, OpenDirect, PublicRooms,
    SearchUsers, SendMessage, Sync, Typing,
};
use crate::protocol::tasks::{GetTasks, StartTask};
use crate::protocol::ServerMsg as M;

use super::{Reply, Transport};

/// `sync`'s long-poll wait applies to REST only: a socket has new messages pushed to it.
fn sync_body(mut b: Sync, t: Transport) -> Sync {
    if t == Transport::Ws {
        b.wait = None;
    }
    b
}

crate::operations! {
    // ---- /ws/chat/ and /api/rooms, /api/messages, /api/sync ----
    Chat GetRoomList(NoBody) Get "/api/rooms" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::RoomList { rooms: s.chat.room_list(a).await? }));
    Chat CreateRoom(CreateRoom) Post "/api/rooms" Json
        => |s, a, ids, b, t| Ok(Reply::created(M::RoomCreated { room: s.chat.create_room(a, b).await? }));
    Chat OpenDirect(OpenDirect) Post "/api/rooms/direct" Json
        => |s, a, ids, b, t| Ok(Reply::ok(M::Room { room: s.chat.open_direct(a, b).await? }));
    Chat GetPublicRooms(PublicRooms) Get "/api/rooms/public" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::PublicRoomList { rooms: s.chat.public_rooms(a, b).await? }));
    Chat GetRoom(NoBody) Get "/api/rooms/{room_id}" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::Room { room: s.chat.get_room(a, ids.room()?).await? }));
    Chat JoinRoom(NoBody) Post "/api/rooms/{room_id}/join" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::RoomJoined { room: s.chat.join_room(a, ids.room()?).await? }));
    Chat LeaveRoom(NoBody) Post "/api/rooms/{room_id}/leave" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::RoomLeft { room_id: s.chat.leave_room(a, ids.room()?).await? }));
    Chat GetMembers(NoBody) Get "/api/rooms/{room_id}/members" Nothing
        => |s, a, ids, b, t| {
            let room_id = ids.room()?;
            Ok(Reply::ok(M::Members { room_id, members: s.chat.members(a, room_id).await? }))
        };
    Chat AddMember(AddMember) Post "/api/rooms/{room_id}/members" Json
        => |s, a, ids, b, t| {
            let room_id = ids.room()?;
            let user = s.chat.add_member(a, room_id, b).await?;
            Ok(Reply::ok(M::MemberAdded { room_id, user }))
        };
    Chat GetMessages(GetMessages) Get "/api/rooms/{room_id}/messages" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::Messages(s.chat.get_messages(a, ids.room()?, b).await?)));
    Chat SendMessage(SendMessage) Post "/api/rooms/{room_id}/messages" Json
        => |s, a, ids, b, t| {
            let (message, new) = s.chat.send_message(a, ids.room()?, b).await?;
            Ok(Reply::created_if(new, M::MessageSent { message }))
        };
    Chat MarkRead(MarkRead) Post "/api/rooms/{room_id}/read" OptJson
        => |s, a, ids, b, t| Ok(Reply::ok(M::ReadMarked(s.chat.mark_read(a, ids.room()?, b).await?)));
    Chat Typing(Typing) Post "/api/rooms/{room_id}/typing" Json
        => |s, a, ids, b, t| {
            s.chat.typing(a, ids.room()?, b).await?;
            Ok(Reply::none())
        };
    Chat EditMessage(EditMessage) Patch "/api/messages/{message_id}" Json
        => |s, a, ids, b, t| Ok(Reply::ok(M::MessageUpdated { message: s.chat.edit_message(a, ids.message()?, b).await? }));
    Chat DeleteMessage(NoBody) Delete "/api/messages/{message_id}" Nothing
        => |s, a, ids, b, t| {
            let (room_id, message_id) = s.chat.delete_message(a, ids.message()?).await?;
            Ok(Reply::ok(M::MessageDeleted { room_id, message_id }))
        };
    Chat SearchUsers(SearchUsers) Get "/api/users" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::UserList { users: s.chat.search_users(a, b).await? }));
    Chat Sync(Sync) Get "/api/sync" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::Sync(s.chat.sync(a, sync_body(b, t)).await?)));

    // ---- /ws/tasks/ and /api/tasks ----
    Tasks StartTask(StartTask) Post "/api/tasks" LargeJson
        => |s, a, ids, b, t| Ok(Reply::accepted(M::TaskCreated { task: s.tasks.start(&a.user, b).await? }));
    Tasks GetTasks(GetTasks) Get "/api/tasks" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::TaskList { tasks: s.tasks.list(&a.user, b).await? }));
    Tasks GetTask(NoBody) Get "/api/tasks/{task_id}" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::Task { task: s.tasks.get(&a.user, ids.task()?).await? }));
    Tasks CancelTask(NoBody) Post "/api/tasks/{task_id}/cancel" Nothing
        => |s, a, ids, b, t| Ok(Reply::accepted(M::TaskCancelling { task_id: s.tasks.cancel(&a.user, ids.task()?).await? }));

    // ---- /ws/support/ and /api/support (visitors: the room is implied) ----
    Support SendMessage(SendMessage) Post "/api/support/messages" Json
        => |s, a, ids, b, t| {
            let (message, new) = s.support.send(&a.user, b).await?;
            Ok(Reply::created_if(new, M::MessageSent { message }))
        };
    Support GetMessages(GetMessages) Get "/api/support/messages" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::Messages(s.support.messages(&a.user, b).await?)));
    Support MarkRead(MarkRead) Post "/api/support/read" OptJson
        => |s, a, ids, b, t| Ok(Reply::ok(M::ReadMarked(s.support.mark_read(&a.user, b).await?)));

    // ---- /ws/admin/chat/ and /api/admin/support (staff at the console) ----
    Admin GetRoomList(NoBody) Get "/api/admin/support/rooms" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::RoomList { rooms: s.support.staff_rooms(a).await? }));
    Admin GetRoom(NoBody) Get "/api/admin/support/rooms/{room_id}" Nothing
        => |s, a, ids, b, t| Ok(Reply::ok(M::Room { room: s.support.staff_room(a, ids.room()?).await? }));
    Admin GetMessages(GetMessages) Get "/api/admin/support/rooms/{room_id}/messages" Query
        => |s, a, ids, b, t| Ok(Reply::ok(M::Messages(s.support.staff_messages(a, ids.room()?, b).await?)));
    Admin SendMessage(SendMessage) Post "/api/admin/support/rooms/{room_id}/messages" Json
        => |s, a, ids, b, t| {
            let (message, new) = s.support.staff_send(a, ids.room()?, b).await?;
            Ok(Reply::created_if(new, M::MessageSent { message }))
        };
    Admin MarkRead(MarkRead) Post "/api/admin/support/rooms/{room_id}/read" OptJson
        => |s, a, ids, b, t| Ok(Reply::ok(M::ReadMarked(s.support.staff_mark_read(a, ids.room()?, b).await?)));
}
