//! A size limit enforced on WebSocket frame *headers*, before any payload is buffered.
//!
//! actix-http's frame parser checks its `max_size` only once a frame's payload is complete, and
//! actix-ws reads the request body into an unbounded buffer: a client that declares a 2^40-byte
//! frame and then streams payload makes the server buffer all of it. [`FrameGuard`] sits between
//! the request body and actix-ws. It parses frame headers incrementally as the bytes go through
//! (it never copies or holds payload) and, as soon as a header declares a frame over the limit, or
//! the declared sizes of a fragmented message's frames add up to more than the limit, it stops
//! passing bytes on: the stream ends there and the shared [`Tripped`] flag is raised, so the
//! session closes with 1009 instead of reading on. actix-ws's own `max_frame_size` and
//! `max_continuation_size` stay in place as a second line.

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Raised by a [`FrameGuard`] when it cut the stream because a frame or message was too big.
#[derive(Debug, Clone, Default)]
pub struct Tripped(Arc<AtomicBool>);

impl Tripped {
    /// Whether the guard cut the stream for size.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The longest frame header: 2 bytes, a 64-bit length, a 4-byte mask key.
const MAX_HEADER: usize = 14;

/// Incremental WebSocket frame-header parser (RFC 6455 section 5.2) that tracks, without
/// buffering any payload, how much of the current frame is left and how big the current
/// fragmented message has been declared to be.
#[derive(Debug)]
pub struct FrameParser {
    limit: u64,
    /// Header bytes seen so far of the frame being started (at most [`MAX_HEADER`]).
    header: [u8; MAX_HEADER],
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    remaining: u64,
    /// Declared size so far of a data message whose final fragment has not been seen.
    message: Option<u64>,
}

/// A frame or message over the limit: the first `pass` bytes of the chunk being fed belong to
/// frames that were within it and may be passed on; the rest must not.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig {
    /// Bytes of the chunk that precede the offending frame's header.
    pub pass: usize,
}

impl FrameParser {
    /// A parser refusing frames and messages of more than `limit` payload bytes.
    pub fn new(limit: usize) -> Self {
        FrameParser {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            header: [0; MAX_HEADER],
            header_len: 0,
            remaining: 0,
            message: None,
        }
    }

    /// Takes the next bytes of the client-to-server stream.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), TooBig> {
        let total = chunk.len();
        // Where in this chunk the header being parsed started (0 if in an earlier chunk).
        let mut header_start = 0;
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                self.remaining -= n as u64;
                chunk = &chunk[n..];
                continue;
            }
            if self.header_len == 0 {
                header_start = total - chunk.len();
            }
            let need = self.header_needs();
            let take = (need - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&chunk[..take]);
            self.header_len += take;
            chunk = &chunk[take..];
            // The length field may have changed what the header needs; loop until complete.
            if self.header_len < self.header_needs() {
                continue;
            }
            if !self.frame_complete() {
                return Err(TooBig { pass: header_start });
            }
        }
        Ok(())
    }

    /// Header bytes needed for what is known of the header so far.
    fn header_needs(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let ext = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    /// A whole header has been read: checks the limits and starts the payload. `false` when the
    /// frame or its message is over the limit.
    fn frame_complete(&mut self) -> bool {
        let h = &self.header;
        let fin = h[0] & 0x80 != 0;
        let opcode = h[0] & 0x0F;
        let len = match h[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        self.header_len = 0;
        if len > self.limit {
            return false;
        }
        // Control frames (ping, pong, close) may come between the fragments of a message and
        // do not count towards it.
        if opcode < 8 {
            let so_far = if opcode == 0 {
                self.message.unwrap_or(0)
            } else {
                0
            };
            let size = so_far.saturating_add(len);
            if size > self.limit {
                return false;
            }
            self.message = (!fin).then_some(size);
        }
        self.remaining = len;
        true
    }
}

/// Passes a WebSocket client's bytes through unchanged until a frame header declares more than
/// the limit (see the module documentation); then ends the stream and raises [`Tripped`].
pub struct FrameGuard<S> {
    inner: S,
    parser: FrameParser,
    tripped: Tripped,
    done: bool,
}

impl<S> FrameGuard<S> {
    /// Guards `inner` with a limit of `limit` payload bytes per frame and per message.
    pub fn new(inner: S, limit: usize) -> (Self, Tripped) {
        let tripped = Tripped::default();
        let guard = FrameGuard {
            inner,
            parser: FrameParser::new(limit),
            tripped: tripped.clone(),
            done: false,
        };
        (guard, tripped)
    }
}

impl<S> Stream for FrameGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => match this.parser.feed(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(TooBig { pass }) => {
                    this.done = true;
                    this.tripped.set();
                    if pass > 0 {
                        Poll::Ready(Some(Ok(bytes.slice(..pass))))
                    } else {
                        Poll::Ready(None)
                    }
                }
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame header (mask key 0) for `len` payload bytes.
    fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        let mut h = vec![(if fin { 0x80 } else { 0 }) | opcode];
        if len < 126 {
            h.push(0x80 | len as u8);
        } else if len <= u64::from(u16::MAX) {
            h.push(0x80 | 126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            h.push(0x80 | 127);
            h.extend_from_slice(&len.to_be_bytes());
        }
        h.extend_from_slice(&[0, 0, 0, 0]);
        h
    }

    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut f = header(fin, opcode, len as u64);
        f.extend(std::iter::repeat_n(b'x', len));
        f
    }

    /// Feeds `bytes` in chunks of `step`; returns how many bytes of `bytes` were passed on
    /// (whole earlier chunks, then the part of the last chunk before the offending header), or
    /// `None` when everything passed.
    fn feed_in_steps(p: &mut FrameParser, bytes: &[u8], step: usize) -> Option<usize> {
        for (i, chunk) in bytes.chunks(step).enumerate() {
            if let Err(TooBig { pass }) = p.feed(chunk) {
                return Some(i * step + pass);
            }
        }
        None
    }

    /// What [`feed_in_steps`] passes when the offending header starts at `start` and is
    /// `len` bytes long: everything before it, except that bytes of chunks already handed on
    /// (the header's own first bytes, when it spans chunks) cannot be taken back.
    fn passed(start: usize, len: usize, step: usize) -> usize {
        let last_chunk = (start + len - 1) / step * step;
        start.max(last_chunk)
    }

    #[test]
    fn all_three_length_encodings_within_the_limit_pass() {
        for step in [1, 2, 3, 7, 1000, 1 << 20] {
            let mut p = FrameParser::new(70_000);
            let mut bytes = frame(true, 1, 5);
            bytes.extend(frame(true, 2, 300));
            bytes.extend(frame(true, 1, 70_000));
            bytes.extend(frame(true, 1, 0));
            assert_eq!(feed_in_steps(&mut p, &bytes, step), None, "step {step}");
            assert_eq!((p.remaining, p.header_len), (0, 0));
        }
    }

    #[test]
    fn each_length_encoding_over_the_limit_trips_on_the_header() {
        for (limit, len) in [(100, 101), (100, 126), (1000, 1001), (70_000, 1 << 40)] {
            for step in [1, 3, 1 << 20] {
                let mut p = FrameParser::new(limit);
                let mut bytes = frame(true, 1, 10);
                let start = bytes.len();
                // Only the header: the payload need not be there for the decision.
                let h = header(true, 1, len);
                bytes.extend(&h);
                assert_eq!(
                    feed_in_steps(&mut p, &bytes, step),
                    Some(passed(start, h.len(), step)),
                    "limit {limit} len {len} step {step}"
                );
            }
        }
    }

    #[test]
    fn a_header_split_across_chunks_is_reassembled() {
        let mut p = FrameParser::new(100);
        let h = header(true, 1, 1 << 40);
        assert_eq!(h.len(), MAX_HEADER);
        assert_eq!(p.feed(&h[..1]), Ok(()));
        assert_eq!(p.feed(&h[1..5]), Ok(()));
        // The header started in an earlier chunk: nothing of this one may pass.
        assert_eq!(p.feed(&h[5..]), Err(TooBig { pass: 0 }));
    }

    #[test]
    fn a_fragmented_message_counts_all_its_fragments() {
        let mut p = FrameParser::new(100);
        let mut bytes = frame(false, 1, 40);
        bytes.extend(frame(false, 0, 40));
        let third = bytes.len();
        bytes.extend(frame(true, 0, 40));
        assert_eq!(feed_in_steps(&mut p, &bytes, 5), Some(passed(third, 6, 5)));
        let mut p = FrameParser::new(100);
        assert_eq!(feed_in_steps(&mut p, &bytes, 1 << 20), Some(third));
        // Exactly at the limit is fine, and a new message starts from zero.
        let mut p = FrameParser::new(100);
        let mut bytes = frame(false, 1, 50);
        bytes.extend(frame(true, 0, 50));
        bytes.extend(frame(false, 2, 60));
        bytes.extend(frame(true, 0, 40));
        assert_eq!(feed_in_steps(&mut p, &bytes, 9), None);
    }

    #[test]
    fn control_frames_between_fragments_do_not_count() {
        let mut p = FrameParser::new(100);
        let mut bytes = frame(false, 1, 60);
        for _ in 0..10 {
            bytes.extend(frame(true, 9, 100)); // ping
            bytes.extend(frame(true, 10, 0)); // pong
        }
        bytes.extend(frame(true, 0, 40));
        bytes.extend(frame(true, 1, 100));
        assert_eq!(feed_in_steps(&mut p, &bytes, 4), None);
        // ...but they are held to the limit themselves, and the message total survives them.
        let mut p = FrameParser::new(100);
        let mut bytes = frame(false, 1, 60);
        bytes.extend(frame(true, 9, 10));
        let cont = bytes.len();
        bytes.extend(frame(true, 0, 41));
        assert_eq!(feed_in_steps(&mut p, &bytes, 4), Some(passed(cont, 6, 4)));
        let mut p = FrameParser::new(100);
        assert_eq!(feed_in_steps(&mut p, &bytes, 1 << 20), Some(cont));
        let mut p = FrameParser::new(100);
        assert_eq!(p.feed(&header(true, 9, 101)), Err(TooBig { pass: 0 }));
    }

    #[test]
    fn guard_ends_the_stream_and_raises_the_flag() {
        use futures_util::StreamExt;
        let mut ok = frame(true, 1, 3);
        let cut = ok.len();
        ok.extend(header(true, 1, 1 << 40));
        ok.extend([0u8; 64]);
        let chunks: Vec<Result<Bytes, PayloadError>> =
            vec![Ok(Bytes::from(ok)), Ok(Bytes::from_static(&[0; 64]))];
        let (mut guard, tripped) = FrameGuard::new(futures_util::stream::iter(chunks), 1024);
        let first = futures_util::FutureExt::now_or_never(guard.next());
        assert_eq!(
            first.flatten().and_then(Result::ok).map(|b| b.len()),
            Some(cut)
        );
        assert!(tripped.is_set());
        assert!(futures_util::FutureExt::now_or_never(guard.next())
            .flatten()
            .is_none());
    }
}
