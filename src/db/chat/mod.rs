//! Rooms, members and messages: SQL only.

mod adopt;
mod messages;
mod reads;
mod rooms;

pub use adopt::adopt_support_room;
pub use messages::{
    delete_message, edit_message, insert_message, latest_message_id, message, message_by_client_id,
    messages_after, messages_page, sync, Cursor, Message,
};
pub use reads::{mark_read, staff_mark_read};
pub use rooms::{
    add_member, co_member_ids, direct_room, insert_room, is_member, member_ids, members,
    public_rooms, remove_member, room_info, room_view, rooms_of, support_room_of, support_rooms,
    LastMessage, Room, RoomInfo, RoomKind,
};
