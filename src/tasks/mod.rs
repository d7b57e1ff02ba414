//! Background tasks.

pub mod nanp;
