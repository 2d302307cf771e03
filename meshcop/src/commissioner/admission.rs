//! Admission control of joiner handshakes: every joiner datagram comes from a device nobody has
//! authenticated, so what one costs us is bounded before we spend it.
//!
//! - Cookies: a ClientHello's cookie is checked statelessly ([`dtls::check_cookie`], one
//!   HMAC-SHA256, no elliptic-curve work) against the key of the current cookie window or the
//!   previous one; each window's key is fresh from the random source, and a key older than two
//!   windows is forgotten, so a cookie is good for at most two `cookie_lifetime`s (Mbed TLS
//!   `ssl_cookie.c` puts a timestamp in its cookie and accepts it for 60 s).
//! - Rates: a server handshake (the EC-JPAKE flight, about 5 ms of CPU) starts only when two
//!   token buckets each give a token. A joiner admitted by a wildcard or discerner entry (any
//!   joiner ID an attacker makes up) draws on the open bucket and its joiner router's bucket; a
//!   joiner admitted by its own EUI-64 entry draws on the named bucket and that entry's bucket,
//!   so a flood of made-up joiner IDs cannot starve the joiners the operator named (only a
//!   spoofer of that very joiner ID can, at that entry's rate). The joiner sessions themselves
//!   check the slot limits and the per-joiner restart rule before asking.
//! - Events: `joiner-seen` and `joiner-handshake-failed` of sessions that never authenticated can
//!   be produced by anyone in radio range: at most `unauthenticated_events_per_joiner` per joiner
//!   ID and `unauthenticated_events` in all per minute are emitted; the rest are counted in
//!   [`Stats::suppressed_events`].
//!
//! Sans-I/O like the rest: `now` and the random source come from the caller. Memory is bounded:
//! at most [`MAX_TRACKED`] joiner routers and joiner IDs are remembered (idle ones are forgotten
//! first; beyond that only the global limits apply).

use super::*;

/// How many joiner routers (rate buckets) and joiner IDs (event counts) are remembered.
pub(super) const MAX_TRACKED: usize = 1024;
/// The window of the event limits.
const EVENT_WINDOW: Duration = Duration::from_secs(60);

/// A token bucket's parameters: up to `burst` at once, then one every `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Tokens available at once (a zero burst admits nothing).
    pub burst: u32,
    /// Time to earn one token back.
    pub interval: Duration,
}

/// Limits on what unauthenticated joiners can make the commissioner do. [`JoinerLimits::default`]
/// gives the defaults listed on each field; they admit a few dozen legitimate joiners at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinerLimits {
    /// A HelloVerifyRequest cookie is made with the key of the current window of this length and
    /// accepted in that window and the next one (default 60 s, as Mbed TLS `ssl_cookie.c`).
    pub cookie_lifetime: Duration,
    /// Server handshakes (EC-JPAKE flights) started for joiners admitted by a wildcard or
    /// discerner entry, all joiner routers together (default burst 16, then 8 per second: at
    /// most about 4% of a core).
    pub handshakes: Rate,
    /// The same per joiner router (default burst 8, then 2 per second).
    pub handshakes_per_router: Rate,
    /// Server handshakes started for joiners admitted by their own EUI-64 entry, all together
    /// (default burst 16, then 8 per second); separate from `handshakes` so that made-up joiner
    /// IDs cannot starve them.
    pub named_handshakes: Rate,
    /// The same per EUI-64 entry (default burst 4, then one every 2 s).
    pub handshakes_per_named_joiner: Rate,
    /// Joiner sessions per joiner router (default 16 of `max_joiner_sessions`: joiners
    /// commissioned together often share one router); a new one evicts that router's oldest
    /// evictable session (wildcard and discerner ones first).
    pub sessions_per_router: usize,
    /// When the sessions (all, or one router's) are full, a new one evicts the oldest session
    /// that has not authenticated and is at least this old (default 2 s), so that legitimate
    /// joiners arriving together do not evict each other; with none that old it is refused (the
    /// joiner retransmits its ClientHello).
    pub evictable_after: Duration,
    /// Lifetime of a session until its handshake completes (its ClientKeyExchange and Finished
    /// arrive in one flight): default 10 s, then `joiner_session_timeout` from its start applies.
    pub unauthenticated_timeout: Duration,
    /// A joiner's session restarts (a cookie-bearing ClientHello with a new random) at most once
    /// per this interval (default 5 s); a ClientHello whose random the session has already seen
    /// (a replay) never restarts it.
    pub restart_interval: Duration,
    /// Cookie-bearing ClientHellos that find the slots or the rates full wait for room, at most
    /// this many (default 128; beyond it they are refused and the joiner retransmits). A waiting
    /// one costs its record (a few hundred bytes), no elliptic-curve work.
    pub max_waiting: usize,
    /// How long one may wait (default 20 s: past a joiner's first two DTLS retransmissions,
    /// 8 s and 16 s later, each of which keeps its place).
    pub max_wait: Duration,
    /// `joiner-seen` / `joiner-handshake-failed` events of unauthenticated sessions per joiner ID
    /// per minute (default 4); more are counted in [`Stats::suppressed_events`].
    pub unauthenticated_events_per_joiner: u32,
    /// The same events per minute for all joiners admitted by wildcard or discerner entries
    /// together (default 60; joiners with their own EUI-64 entry have only the per-joiner limit).
    pub unauthenticated_events: u32,
}

impl Default for JoinerLimits {
    fn default() -> JoinerLimits {
        JoinerLimits {
            cookie_lifetime: Duration::from_secs(60),
            handshakes: Rate {
                burst: 16,
                interval: Duration::from_millis(125),
            },
            handshakes_per_router: Rate {
                burst: 8,
                interval: Duration::from_millis(500),
            },
            named_handshakes: Rate {
                burst: 16,
                interval: Duration::from_millis(125),
            },
            handshakes_per_named_joiner: Rate {
                burst: 4,
                interval: Duration::from_secs(2),
            },
            sessions_per_router: 16,
            evictable_after: Duration::from_secs(2),
            unauthenticated_timeout: Duration::from_secs(10),
            restart_interval: Duration::from_secs(5),
            max_waiting: 128,
            max_wait: Duration::from_secs(20),
            unauthenticated_events_per_joiner: 4,
            unauthenticated_events: 60,
        }
    }
}

/// A token bucket: `tokens` as of `at`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: u32,
    at: Instant,
}

impl Bucket {
    fn full(rate: &Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
        }
    }
    fn refill(&mut self, rate: &Rate, now: Instant) {
        if self.tokens >= rate.burst {
            self.tokens = rate.burst;
            self.at = self.at.max(now);
            return;
        }
        let elapsed = now.saturating_duration_since(self.at);
        let earned = if rate.interval.is_zero() {
            u128::from(rate.burst)
        } else {
            elapsed.as_nanos() / rate.interval.as_nanos()
        };
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        if earned == 0 {
            return;
        }
        self.tokens = self.tokens.saturating_add(earned).min(rate.burst);
        self.at = if self.tokens >= rate.burst {
            now
        } else {
            self.at + rate.interval * earned
        };
    }
    fn available(&mut self, rate: &Rate, now: Instant) -> bool {
        self.refill(rate, now);
        self.tokens > 0
    }
    fn take(&mut self) {
        self.tokens = self.tokens.saturating_sub(1);
    }
    /// Whether it is full at `now` (nothing to remember about it).
    fn idle(&self, rate: &Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= rate.burst
    }
}

/// The cookie keys: the current window's and the previous window's.
struct CookieKeys {
    /// Start of window 0 (the first call).
    origin: Option<Instant>,
    window: u64,
    current: Zeroizing<[u8; 32]>,
    previous: Option<Zeroizing<[u8; 32]>>,
}

impl CookieKeys {
    /// Moves to `now`'s window: a new key for each window passed (the previous key only when
    /// exactly one passed).
    fn rotate(&mut self, now: Instant, lifetime: Duration, rng: &mut (dyn CryptoRng + Send)) {
        let origin = *self.origin.get_or_insert(now);
        let lifetime = lifetime.max(Duration::from_millis(1));
        let w = now.saturating_duration_since(origin).as_nanos() / lifetime.as_nanos();
        let w = u64::try_from(w).unwrap_or(u64::MAX);
        if w <= self.window {
            return;
        }
        let mut fresh = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *fresh);
        let old = std::mem::replace(&mut self.current, fresh);
        self.previous = (w == self.window + 1).then_some(old);
        self.window = w;
    }
}

/// What [`Admission::cookie`] decided about a ClientHello.
pub(super) enum Cookie {
    /// Not a ClientHello a stateless server would answer.
    Ignore,
    /// No valid cookie: send this HelloVerifyRequest and keep nothing.
    Verify(Vec<u8>),
    /// A valid cookie, made with this key (the DTLS server is created with it).
    Valid(Zeroizing<Vec<u8>>),
}

/// The admission state: cookie keys, rate buckets, event counts.
pub(super) struct Admission {
    keys: CookieKeys,
    /// Wildcard / discerner admissions: all together, per joiner router.
    open: Option<Bucket>,
    routers: BTreeMap<u16, Bucket>,
    /// EUI-64 admissions: all together, per entry.
    named: Option<Bucket>,
    entries: BTreeMap<[u8; 8], Bucket>,
    /// Unauthenticated events this window: all together, and per joiner ID.
    events_window: Option<Instant>,
    events_total: u32,
    events_per_joiner: BTreeMap<[u8; 8], u32>,
}

impl Admission {
    pub(super) fn new(cookie_key: Zeroizing<[u8; 32]>) -> Admission {
        Admission {
            keys: CookieKeys {
                origin: None,
                window: 0,
                current: cookie_key,
                previous: None,
            },
            open: None,
            routers: BTreeMap::new(),
            named: None,
            entries: BTreeMap::new(),
            events_window: None,
            events_total: 0,
            events_per_joiner: BTreeMap::new(),
        }
    }

    /// Checks the cookie of the ClientHello `record` from `peer` (HMAC only), against the current
    /// window's key and then the previous one's.
    pub(super) fn cookie(
        &mut self,
        cx: &mut JoinerCx<'_>,
        now: Instant,
        peer: &[u8],
        record: &[u8],
    ) -> Cookie {
        let limits = &cx.config.joiner_limits;
        self.keys.rotate(now, limits.cookie_lifetime, &mut *cx.rng);
        let hvr = match dtls::check_cookie(record, &*self.keys.current, peer) {
            dtls::CookieCheck::NotClientHello => return Cookie::Ignore,
            dtls::CookieCheck::Valid => {
                return Cookie::Valid(Zeroizing::new(self.keys.current.to_vec()))
            }
            dtls::CookieCheck::Invalid {
                hello_verify_request,
            } => hello_verify_request,
        };
        if let Some(prev) = &self.keys.previous {
            if dtls::check_cookie(record, &**prev, peer) == dtls::CookieCheck::Valid {
                return Cookie::Valid(Zeroizing::new(prev.to_vec()));
            }
        }
        Cookie::Verify(hvr)
    }

    /// Whether a server handshake may start now for a joiner behind `router`, admitted by the
    /// EUI-64 entry `named` or (`None`) by a wildcard or discerner entry: both of its buckets
    /// have a token; takes them when it may. Why not, otherwise.
    pub(super) fn take_handshake(
        &mut self,
        limits: &JoinerLimits,
        now: Instant,
        router: u16,
        named: Option<[u8; 8]>,
    ) -> Result<(), &'static str> {
        match named {
            None => take_two(
                (&mut self.open, &limits.handshakes),
                (&mut self.routers, &limits.handshakes_per_router, router),
                now,
            )
            .map_err(|first| {
                if first {
                    "the joiner handshake rate"
                } else {
                    "the joiner router's handshake rate"
                }
            }),
            Some(eui64) => take_two(
                (&mut self.named, &limits.named_handshakes),
                (
                    &mut self.entries,
                    &limits.handshakes_per_named_joiner,
                    eui64,
                ),
                now,
            )
            .map_err(|first| {
                if first {
                    "the handshake rate of joiners with an EUI-64 entry"
                } else {
                    "the handshake rate of this EUI-64 entry"
                }
            }),
        }
    }

    /// Whether an event of an unauthenticated session of `joiner_id` may be emitted at `now`
    /// (counting it when it may).
    pub(super) fn allow_event(
        &mut self,
        limits: &JoinerLimits,
        now: Instant,
        joiner_id: [u8; 8],
        named: bool,
    ) -> bool {
        let fresh = self
            .events_window
            .is_none_or(|start| now.saturating_duration_since(start) >= EVENT_WINDOW);
        if fresh {
            self.events_window = Some(now);
            self.events_total = 0;
            self.events_per_joiner.clear();
        }
        if !named && self.events_total >= limits.unauthenticated_events {
            return false;
        }
        let tracked = self.events_per_joiner.len() < MAX_TRACKED
            || self.events_per_joiner.contains_key(&joiner_id);
        if tracked {
            let n = self.events_per_joiner.entry(joiner_id).or_insert(0);
            if *n >= limits.unauthenticated_events_per_joiner {
                return false;
            }
            *n += 1;
        }
        if !named {
            self.events_total += 1;
        }
        true
    }
}

/// Takes a token from `total` and one from `per[key]` when both have one; `Err(true)` when
/// `total` has none, `Err(false)` when `per[key]` has none. At most [`MAX_TRACKED`] keys are
/// remembered (idle ones are forgotten first; beyond that `total` alone limits).
fn take_two<K: Ord + Copy>(
    (total, total_rate): (&mut Option<Bucket>, &Rate),
    (per, per_rate, key): (&mut BTreeMap<K, Bucket>, &Rate, K),
    now: Instant,
) -> Result<(), bool> {
    let total = total.get_or_insert_with(|| Bucket::full(total_rate, now));
    if !total.available(total_rate, now) {
        return Err(true);
    }
    if !per.contains_key(&key) {
        if per.len() >= MAX_TRACKED {
            per.retain(|_, b| !b.idle(per_rate, now));
        }
        if per.len() >= MAX_TRACKED {
            total.take();
            return Ok(());
        }
        per.insert(key, Bucket::full(per_rate, now));
    }
    let Some(bucket) = per.get_mut(&key) else {
        return Err(false);
    };
    if !bucket.available(per_rate, now) {
        return Err(false);
    }
    bucket.take();
    total.take();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_gives_its_burst_then_one_per_interval() {
        let rate = Rate {
            burst: 3,
            interval: Duration::from_secs(1),
        };
        let t0 = Instant::now();
        let mut b = Bucket::full(&rate, t0);
        for _ in 0..3 {
            assert!(b.available(&rate, t0));
            b.take();
        }
        assert!(!b.available(&rate, t0));
        assert!(!b.available(&rate, t0 + Duration::from_millis(999)));
        assert!(b.available(&rate, t0 + Duration::from_millis(1000)));
        b.take();
        assert!(!b.available(&rate, t0 + Duration::from_millis(1500)));
        // Earned tokens never exceed the burst; an earlier `now` earns nothing.
        assert!(b.idle(&rate, t0 + Duration::from_secs(100)));
        assert!(!b.available(&rate, t0));
    }

    #[test]
    fn cookie_keys_rotate_per_window_and_keep_one_previous() {
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut k = CookieKeys {
            origin: None,
            window: 0,
            current: Zeroizing::new([1; 32]),
            previous: None,
        };
        let t0 = Instant::now();
        let life = Duration::from_secs(60);
        k.rotate(t0, life, &mut rng);
        assert_eq!(*k.current, [1; 32]);
        k.rotate(t0 + Duration::from_secs(59), life, &mut rng);
        assert_eq!(*k.current, [1; 32]);
        k.rotate(t0 + Duration::from_secs(61), life, &mut rng);
        assert_ne!(*k.current, [1; 32]);
        assert_eq!(k.previous.as_deref(), Some(&[1; 32]));
        // Two windows later neither old key is left.
        let second = *k.current;
        k.rotate(t0 + Duration::from_secs(200), life, &mut rng);
        assert_ne!(*k.current, second);
        assert!(k.previous.is_none());
    }

    /// `dtls::check_cookie` answers as the DTLS server would: the same HelloVerifyRequest, and
    /// `Valid` exactly when the server goes on to its ServerHello; another key or peer is invalid.
    #[test]
    fn check_cookie_agrees_with_the_dtls_server() {
        let now = Instant::now();
        let rng = |n: u8| Box::new(SeededRng::from_seed([n; 32]));
        let mut client =
            dtls::Connection::client(dtls::Config::client(b"PSKD01"), rng(1), now).unwrap();
        let hello = client.poll_transmit().unwrap();
        let server = |key: &[u8]| {
            dtls::Connection::server(dtls::Config::server(b"PSKD01"), key, b"peer", rng(2)).unwrap()
        };
        let mut s = server(b"key");
        s.handle_datagram(now, &hello);
        let hvr = s.poll_transmit().unwrap();
        assert_eq!(
            dtls::check_cookie(&hello, b"key", b"peer"),
            dtls::CookieCheck::Invalid {
                hello_verify_request: hvr.clone()
            }
        );
        client.handle_datagram(now, &hvr);
        let hello2 = client.poll_transmit().unwrap();
        assert_eq!(
            dtls::check_cookie(&hello2, b"key", b"peer"),
            dtls::CookieCheck::Valid
        );
        let mut s = server(b"key");
        s.handle_datagram(now, &hello2);
        assert!(dtls::starts_with_server_hello(&s.poll_transmit().unwrap()));
        assert!(matches!(
            dtls::check_cookie(&hello2, b"other key", b"peer"),
            dtls::CookieCheck::Invalid { .. }
        ));
        assert!(matches!(
            dtls::check_cookie(&hello2, b"key", b"other peer"),
            dtls::CookieCheck::Invalid { .. }
        ));
        assert_eq!(
            dtls::check_cookie(&hvr, b"key", b"peer"),
            dtls::CookieCheck::NotClientHello
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

        /// Garbage (and ClientHello-shaped garbage) never panics the stateless cookie check.
        #[test]
        fn check_cookie_garbage_never_panics(
            mut d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            shaped in proptest::prelude::any::<bool>(),
        ) {
            if shaped && d.len() > 25 {
                d[0] = 22;
                d[1] = 0xfe;
                d[2] = 0xfd;
                d[3] = 0;
                d[4] = 0;
                let n = (d.len() - 13) as u16;
                d[11..13].copy_from_slice(&n.to_be_bytes());
                d[13] = 1;
            }
            let _ = dtls::check_cookie(&d, b"key", b"peer");
        }
    }
}
