//! Spinel over HDLC-lite (see `shared/reference/thread-facts.md` §1).
