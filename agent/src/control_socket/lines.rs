//! The request-line buffer of one control connection: bytes in, complete lines out, bounded by
//! [`MAX_LINE`], and zeroed as it goes (a `joiner.add` line holds a PSKd).
//!
//! Guarantees: it never holds more than `MAX_LINE + 1` bytes; a served line is wiped at once
//! (the bytes after it move to the front, the freed tail is zeroed); growing copies into a new
//! buffer and zeroes the old one; everything is zeroed on drop.

use control::MAX_LINE;
use zeroize::{Zeroize, Zeroizing};

/// The first allocation; doubles up to `MAX_LINE + 1`.
const INITIAL: usize = 4096;

/// What the buffer holds next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A complete line of this many bytes (without its newline) is at the front.
    Line(usize),
    /// No newline yet (possibly nothing at all).
    Partial,
    /// More than `MAX_LINE` bytes without a newline.
    TooLong,
}

/// Bytes read from a connection, not yet served.
#[derive(Default)]
pub(crate) struct LineBuf {
    buf: Zeroizing<Vec<u8>>,
    filled: usize,
}

impl LineBuf {
    pub(crate) fn new() -> LineBuf {
        LineBuf::default()
    }

    /// Nothing buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// The buffered bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Free space to read into (grows the buffer when full, up to `MAX_LINE + 1`); empty when
    /// the buffer is at its bound.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.filled == self.buf.len() && self.buf.len() < MAX_LINE + 1 {
            let size = (self.buf.len() * 2).clamp(INITIAL, MAX_LINE + 1);
            let mut bigger = Zeroizing::new(vec![0u8; size]);
            bigger[..self.filled].copy_from_slice(&self.buf[..self.filled]);
            self.buf = bigger; // the old buffer is zeroed as it drops
        }
        &mut self.buf[self.filled..]
    }

    /// `n` bytes were read into [`LineBuf::space`].
    pub(crate) fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// What is at the front.
    pub(crate) fn next(&self) -> Next {
        match self.bytes().iter().position(|b| *b == b'\n') {
            Some(i) if i <= MAX_LINE => Next::Line(i),
            Some(_) => Next::TooLong,
            None if self.filled > MAX_LINE => Next::TooLong,
            None => Next::Partial,
        }
    }

    /// Drops the first `n` bytes (a served line and its newline) and zeroes where they were.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.filled);
        self.buf.copy_within(n..self.filled, 0);
        let rest = self.filled - n;
        self.buf[rest..self.filled].zeroize();
        self.filled = rest;
    }

    /// Zeroes and forgets everything buffered.
    pub(crate) fn clear(&mut self) {
        self.buf[..self.filled].zeroize();
        self.filled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(b: &mut LineBuf, mut data: &[u8]) {
        while !data.is_empty() {
            let space = b.space();
            assert!(!space.is_empty(), "buffer full");
            let n = space.len().min(data.len());
            space[..n].copy_from_slice(&data[..n]);
            b.commit(n);
            data = &data[n..];
        }
    }

    #[test]
    fn lines_come_out_one_by_one_and_are_wiped() {
        let mut b = LineBuf::new();
        assert_eq!(b.next(), Next::Partial);
        feed(&mut b, b"{\"pskd\":\"J01NME\"}\nsecond\npart");
        assert_eq!(b.next(), Next::Line(17));
        assert_eq!(&b.bytes()[..17], b"{\"pskd\":\"J01NME\"}");
        b.consume(18);
        assert_eq!(b.next(), Next::Line(6));
        b.consume(7);
        assert_eq!((b.next(), b.bytes()), (Next::Partial, &b"part"[..]));
        // Nothing of the served lines is left anywhere in the buffer.
        assert!(b.buf.iter().skip(4).all(|x| *x == 0));
        b.clear();
        assert!(b.is_empty() && b.buf.iter().all(|x| *x == 0));
    }

    #[test]
    fn the_buffer_is_bounded_and_a_long_line_is_reported() {
        let mut b = LineBuf::new();
        feed(&mut b, &vec![b'x'; MAX_LINE]);
        assert_eq!(b.next(), Next::Partial);
        feed(&mut b, b"\n");
        assert_eq!(b.next(), Next::Line(MAX_LINE), "exactly MAX_LINE fits");
        b.consume(MAX_LINE + 1);
        feed(&mut b, &vec![b'y'; MAX_LINE + 1]);
        assert_eq!(b.next(), Next::TooLong);
        assert!(b.space().is_empty(), "never more than MAX_LINE + 1 bytes");
        assert_eq!(b.buf.len(), MAX_LINE + 1);
    }

    #[test]
    fn garbage_bytes_are_just_bytes() {
        let mut b = LineBuf::new();
        feed(&mut b, &[0xff, 0, b'\n', b'\n', 0x80]);
        assert_eq!(b.next(), Next::Line(2));
        b.consume(3);
        assert_eq!(b.next(), Next::Line(0));
        b.consume(1);
        assert_eq!(b.next(), Next::Partial);
    }
}
