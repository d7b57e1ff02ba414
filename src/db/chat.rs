//! Rooms, members and messages: SQL only.
