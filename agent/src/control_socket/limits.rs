//! The control socket's limits: connections at once, how long a request line may take, how long
//! an idle connection stays, and the accept back-off. Bookkeeping only (no I/O, `now` is an
//! argument), so it is tested without sockets.
//!
//! Guarantees:
//! - at most [`Limits::max_connections`] connections that are not event subscriptions, and at most
//!   [`Limits::max_subscriptions`] subscriptions, are open at once;
//! - when the table is full, a new connection takes the place of the oldest one that has no request
//!   in progress (it is told so and closed), so an idle or slow client cannot lock `threadctl` out;
//!   only when every connection is busy is the new one refused;
//! - [`WarnLimiter`] lets a repeating warning through at most once per period, with the count of
//!   what it held back; [`AcceptBackoff`] doubles the pause after a failed `accept` (10 ms to 1 s).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Connections (not subscribed) open at once.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// `events.subscribe` streams open at once.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 32;
/// A request line, once its first byte has arrived, must be complete within this.
pub(crate) const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in progress (and not subscribed) is closed after this.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A reply or event line must be taken by the peer within this, or the connection is closed.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A repeating warning (accept failures, refused connections) is logged at most this often.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(10);

/// The limits of one control server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub max_subscriptions: usize,
    pub line_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_subscriptions: MAX_SUBSCRIPTIONS,
            line_timeout: LINE_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// The table of open connections.
#[derive(Debug)]
pub(crate) struct Slots {
    limits: Limits,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    /// Not subscribed, oldest first.
    open: BTreeMap<u64, Entry>,
    subscriptions: usize,
}

#[derive(Debug)]
struct Entry {
    busy: bool,
    evict: Arc<Notify>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// What [`Slots::admit`] did.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub slot: Slot,
    /// An older idle connection was closed to make room.
    pub evicted: bool,
}

impl Slots {
    pub(crate) fn new(limits: Limits) -> Arc<Slots> {
        Arc::new(Slots {
            limits,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The table stays consistent even if a holder panicked (every change is one statement).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a new connection, evicting the oldest idle one if the table is full.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Admitted, Full> {
        let mut inner = self.lock();
        let mut evicted = false;
        if inner.open.len() >= self.limits.max_connections {
            if !evict_oldest(&mut inner) {
                return Err(Full);
            }
            evicted = true;
        }
        let id = inner.next;
        inner.next += 1;
        let evict = Arc::new(Notify::new());
        inner.open.insert(
            id,
            Entry {
                busy: false,
                evict: evict.clone(),
            },
        );
        Ok(Admitted {
            slot: Slot {
                slots: self.clone(),
                id,
                evict,
                subscribed: false,
            },
            evicted,
        })
    }

    /// Closes the oldest idle connection (to free a descriptor); whether there was one.
    pub(crate) fn evict_oldest(&self) -> bool {
        evict_oldest(&mut self.lock())
    }

    /// (open connections, subscriptions).
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.open.len(), inner.subscriptions)
    }
}

fn evict_oldest(inner: &mut Inner) -> bool {
    let Some(id) = inner.open.iter().find(|(_, e)| !e.busy).map(|(id, _)| *id) else {
        return false;
    };
    if let Some(e) = inner.open.remove(&id) {
        e.evict.notify_one();
    }
    true
}

/// One connection's place in the table; given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    id: u64,
    evict: Arc<Notify>,
    subscribed: bool,
}

impl Slot {
    /// The limits of the server this connection belongs to.
    pub(crate) fn limits(&self) -> &Limits {
        &self.slots.limits
    }

    /// A request is in progress (the connection may not be evicted) or done.
    pub(crate) fn set_busy(&self, busy: bool) {
        if let Some(e) = self.slots.lock().open.get_mut(&self.id) {
            e.busy = busy;
        }
    }

    /// Moves this connection to the subscriptions; `false` if they are full (nothing changes).
    pub(crate) fn subscribe(&mut self) -> bool {
        let mut inner = self.slots.lock();
        if self.subscribed || inner.subscriptions >= self.slots.limits.max_subscriptions {
            return self.subscribed;
        }
        inner.open.remove(&self.id);
        inner.subscriptions += 1;
        self.subscribed = true;
        true
    }

    /// Completes when this connection has been evicted.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.slots.lock();
        if self.subscribed {
            inner.subscriptions -= 1;
        } else {
            inner.open.remove(&self.id);
        }
    }
}

/// Lets a repeating warning through at most once per period.
#[derive(Debug)]
pub(crate) struct WarnLimiter {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimiter {
    pub(crate) fn new(every: Duration) -> WarnLimiter {
        WarnLimiter {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Another occurrence at `now`: `Some(held back since the last one logged)` if it should be
    /// logged, `None` if it is held back.
    pub(crate) fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The pause after failed `accept`s: doubles from 10 ms up to 1 s, reset by a success.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    delay: Duration,
    pub warn: WarnLimiter,
}

impl AcceptBackoff {
    pub(crate) const MIN: Duration = Duration::from_millis(10);
    pub(crate) const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> AcceptBackoff {
        AcceptBackoff {
            delay: Self::MIN,
            warn: WarnLimiter::new(WARN_EVERY),
        }
    }

    /// An accept failed: how long to pause.
    pub(crate) fn failed(&mut self) -> Duration {
        let d = self.delay;
        self.delay = (self.delay * 2).min(Self::MAX);
        d
    }

    /// An accept succeeded.
    pub(crate) fn succeeded(&mut self) {
        self.delay = Self::MIN;
    }
}

/// Out of descriptors (this process or the system): closing a connection frees one.
pub(crate) fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_subscriptions: usize) -> Limits {
        Limits {
            max_connections,
            max_subscriptions,
            ..Limits::default()
        }
    }

    #[test]
    fn a_full_table_evicts_the_oldest_idle_connection_and_refuses_when_all_are_busy() {
        let slots = Slots::new(limits(3, 1));
        let a = slots.admit().unwrap();
        let b = slots.admit().unwrap();
        let c = slots.admit().unwrap();
        assert!(!a.evicted && !b.evicted && !c.evicted);
        a.slot.set_busy(true);
        // Full: b (the oldest idle one) makes room.
        let d = slots.admit().unwrap();
        assert!(d.evicted);
        assert_eq!(slots.counts(), (3, 0));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(b.slot.evicted()); // b was told (completes at once)
        c.slot.set_busy(true);
        d.slot.set_busy(true);
        assert_eq!(slots.admit().unwrap_err(), Full);
        // Dropping b (already evicted) frees nothing twice; dropping c frees its place.
        drop(b);
        assert_eq!(slots.counts(), (3, 0));
        drop(c);
        let e = slots.admit().unwrap();
        assert!(!e.evicted);
        drop((a, d, e));
        assert_eq!(slots.counts(), (0, 0));
    }

    #[test]
    fn subscriptions_have_their_own_cap_and_are_never_evicted() {
        let slots = Slots::new(limits(2, 1));
        let mut a = slots.admit().unwrap().slot;
        assert!(a.subscribe());
        assert!(a.subscribe(), "idempotent");
        let mut b = slots.admit().unwrap().slot;
        assert!(!b.subscribe(), "subscriptions are full");
        assert_eq!(slots.counts(), (1, 1));
        let _c = slots.admit().unwrap().slot;
        let d = slots.admit().unwrap();
        assert!(d.evicted, "b, not the subscription, made room");
        assert!(slots.evict_oldest(), "c is idle");
        assert_eq!(slots.counts(), (1, 1));
        drop(a);
        assert_eq!(slots.counts().1, 0);
    }

    #[test]
    fn a_repeating_warning_is_logged_once_per_period_with_the_count_held_back() {
        let t0 = Instant::now();
        let mut w = WarnLimiter::new(Duration::from_secs(10));
        // Ten failures a second for 25 s (what a spinning accept loop produced).
        let logged: Vec<(u64, u64)> = (0..250u64)
            .filter_map(|i| {
                w.hit(t0 + Duration::from_millis(100 * i))
                    .map(|held| (i, held))
            })
            .collect();
        assert_eq!(logged, vec![(0, 0), (100, 99), (200, 99)]);
    }

    #[test]
    fn accept_backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::new();
        let delays: Vec<u128> = (0..9).map(|_| b.failed().as_millis()).collect();
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(), AcceptBackoff::MIN);
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(is_out_of_descriptors(&emfile));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
    }
}
