//! Unauthenticated joiners under attack: forged ClientHellos (replayed EC-JPAKE round one with
//! any random, cookies obtained as an eavesdropper would, from the relayed HelloVerifyRequest),
//! the admission limits of `admission.rs`, slot eviction, the port rule, event limits, and the
//! flood of 10,000 forged datagrams around one real joiner.

use super::*;
use crate::dtls::handshake::{
    encode_message, parse_fragments, ClientHello, HelloVerifyRequest, HT_CLIENT_HELLO,
};
use crate::dtls::record::{parse_records, Record, CT_HANDSHAKE};

/// Makes ClientHellos from one real client's: its `ecjpake_kkpp` (valid proofs, so the server
/// does all its EC work on them) with any random and cookie.
struct Forger {
    template: ClientHello,
}

impl Forger {
    fn new() -> Forger {
        let now = Instant::now();
        let mut c =
            dtls::Connection::client(dtls::Config::client(b"ANYPSK"), rng(4242), now).unwrap();
        let d = c.poll_transmit().unwrap();
        let recs = parse_records(&d);
        let frags = parse_fragments(recs[0].fragment).unwrap();
        Forger {
            template: ClientHello::parse(frags[0].body).unwrap(),
        }
    }
    fn hello(&self, random: [u8; 32], cookie: &[u8]) -> Vec<u8> {
        let mut ch = self.template.clone();
        ch.random = random;
        ch.cookie = cookie.to_vec();
        let seq = u16::from(!cookie.is_empty());
        let msg = encode_message(HT_CLIENT_HELLO, seq, &ch.encode());
        let mut d = Vec::new();
        Record::encode(CT_HANDSHAKE, 0, u64::from(seq), &msg, &mut d);
        d
    }
    /// The cookie the commissioner gives `addr` for `random` now (read from its RLY_TX).
    fn cookie(&self, w: &mut World, addr: &JoinerAddr, random: [u8; 32]) -> Option<Vec<u8>> {
        let before = w.ba.all_relayed.len();
        w.ba.relay_rx(addr, &self.hello(random, &[]));
        w.shuttle();
        let r = w.ba.all_relayed[before..]
            .iter()
            .rev()
            .find(|r| r.addr == *addr)?;
        hvr_cookie(&r.record)
    }
    /// A cookie exchange, then the cookie-bearing ClientHello (returned, for replays).
    fn session(&self, w: &mut World, addr: &JoinerAddr, random: [u8; 32]) -> Vec<u8> {
        let cookie = self.cookie(w, addr, random).expect("a HelloVerifyRequest");
        let hello = self.hello(random, &cookie);
        w.ba.relay_rx(addr, &hello);
        w.shuttle();
        hello
    }
}

/// The cookie of a HelloVerifyRequest datagram.
fn hvr_cookie(d: &[u8]) -> Option<Vec<u8>> {
    let recs = parse_records(d);
    let frags = parse_fragments(recs.first()?.fragment).ok()?;
    let f = frags.first()?;
    (f.msg_type == 3).then(|| HelloVerifyRequest::parse(f.body).ok().map(|h| h.cookie))?
}

fn forged_addr(n: u32, router: u16) -> JoinerAddr {
    let mut iid = [0x5a, 0, 0, 0, 0, 0, 0, 0];
    iid[4..].copy_from_slice(&n.to_be_bytes());
    JoinerAddr {
        joiner_udp_port: coap::JOINER_UDP_PORT,
        joiner_iid: iid,
        joiner_router_locator: router,
    }
}

fn random(n: u32) -> [u8; 32] {
    let mut r = [0xa5; 32];
    r[..4].copy_from_slice(&n.to_be_bytes());
    r
}

/// An active commissioner with a wildcard entry (any joiner ID is admitted: the worst case).
fn open_world() -> World {
    let mut w = World::active();
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(3600));
    advance(&mut w, Duration::from_secs(1));
    w
}

/// Runs the world for `d` of simulated time, ending exactly `d` later (the rate buckets refill
/// with the clock; `run_until` stops at the last deadline).
fn advance(w: &mut World, d: Duration) {
    let end = w.now + d;
    w.run_until(d, |_| false);
    if w.now < end {
        w.now = end;
        w.comm.handle_timeout(end);
        w.ba.conn.handle_timeout(end);
        for j in w.joiners.iter_mut() {
            j.conn.handle_timeout(end);
        }
        w.shuttle();
    }
}

fn restarts(w: &World) -> usize {
    w.count(|e| {
        matches!(e, Event::JoinerHandshakeFailed { reason: HandshakeFailure::Protocol(r), .. }
            if r.contains("restarted"))
    })
}

/// `n` forged joiners' ClientHellos with valid cookies, spread over 20 joiner routers (so that
/// only the global rate binds).
fn cookie_bearing_hellos(w: &mut World, f: &Forger, n: u32) -> Vec<(JoinerAddr, Vec<u8>)> {
    (0..n)
        .map(|n| {
            let a = forged_addr(n, 0x0400 * (1 + (n % 20) as u16));
            let c = f.cookie(w, &a, random(n)).unwrap();
            (a, f.hello(random(n), &c))
        })
        .collect()
}

fn relay_all(w: &mut World, hellos: &[(JoinerAddr, Vec<u8>)]) {
    for (a, h) in hellos {
        w.ba.relay_rx(a, h);
    }
    w.shuttle();
}

/// 100 joiners with valid cookies at one instant: only the global burst gets a handshake (EC
/// work); the rest wait for tokens, up to `max_waiting`, without any; beyond that they are refused.
#[test]
fn cookie_bearing_hellos_over_the_rate_cost_no_ec_work() {
    let mut w = open_world();
    let f = Forger::new();
    let hellos = cookie_bearing_hellos(&mut w, &f, 100);
    relay_all(&mut w, &hellos);
    let burst = w.comm.config().joiner_limits.handshakes.burst as u64;
    let st = w.comm.stats();
    assert_eq!(st.joiner_handshakes, burst, "{st:?}");
    assert_eq!(st.refused_handshakes, 0);
    assert_eq!(w.comm.joiner_sessions() as u64, burst);
    assert_eq!(w.comm.waiting_joiners() as u64, 100 - burst);

    // With room for 10 waiting, the rest are refused at once, still before any EC work.
    let mut w = open_world();
    w.comm.config.joiner_limits.max_waiting = 10;
    let hellos = cookie_bearing_hellos(&mut w, &f, 100);
    relay_all(&mut w, &hellos);
    let st = w.comm.stats();
    assert_eq!(st.joiner_handshakes, burst, "{st:?}");
    assert_eq!(st.refused_handshakes, 100 - burst - 10);
    assert_eq!(w.comm.waiting_joiners(), 10);
}

/// Waiting ClientHellos get their handshakes as tokens come back (the open rate: one per 125 ms),
/// oldest first; a joiner that retransmits while waiting keeps its one place; one that waited
/// longer than `max_wait` is refused.
#[test]
fn waiting_hellos_start_as_tokens_come_back_and_expire() {
    let mut w = open_world();
    let f = Forger::new();
    let burst = w.comm.config().joiner_limits.handshakes.burst as u64;
    let n = burst + 4;
    let hellos = cookie_bearing_hellos(&mut w, &f, n as u32);
    relay_all(&mut w, &hellos);
    assert_eq!(w.comm.waiting_joiners(), 4);
    // A retransmission of a waiting joiner's ClientHello: still 4 waiting, nothing refused.
    let (a, h) = hellos.last().unwrap();
    w.ba.relay_rx(a, h);
    w.shuttle();
    assert_eq!(w.comm.waiting_joiners(), 4);
    assert_eq!(w.comm.stats().refused_handshakes, 0);
    // Two tokens later (250 ms and a retry tick), two more handshakes.
    advance(&mut w, Duration::from_millis(300));
    assert_eq!(w.comm.stats().joiner_handshakes, burst + 2);
    assert_eq!(w.comm.waiting_joiners(), 2);

    // Expiry: with no token coming back for long, a waiting one is refused after max_wait.
    let mut w = open_world();
    w.comm.config.joiner_limits.handshakes.interval = Duration::from_secs(3600);
    w.comm.config.joiner_limits.max_wait = Duration::from_secs(5);
    for n in 0..=burst as u32 {
        let a = forged_addr(n, 0x0400 * (1 + (n % 20) as u16));
        let c = f.cookie(&mut w, &a, random(n)).unwrap();
        w.ba.relay_rx(&a, &f.hello(random(n), &c));
    }
    w.shuttle();
    assert_eq!(w.comm.waiting_joiners(), 1);
    advance(&mut w, Duration::from_secs(6));
    assert_eq!(w.comm.waiting_joiners(), 0);
    assert_eq!(w.comm.stats().refused_handshakes, 1);
}

/// A cookie is good in its window and the next (60 s each), not after.
#[test]
fn cookies_expire_after_two_windows() {
    let mut w = open_world();
    let f = Forger::new();
    let (a, b) = (forged_addr(1, 0x0400), forged_addr(2, 0x0400));
    let ca = f.cookie(&mut w, &a, random(1)).unwrap();
    let cb = f.cookie(&mut w, &b, random(2)).unwrap();
    advance(&mut w, Duration::from_secs(70));
    w.ba.relay_rx(&a, &f.hello(random(1), &ca));
    w.shuttle();
    assert_eq!(w.comm.joiner_sessions(), 1, "accepted in the next window");
    advance(&mut w, Duration::from_secs(60));
    let relayed = w.ba.all_relayed.len();
    w.ba.relay_rx(&b, &f.hello(random(2), &cb));
    w.shuttle();
    assert_eq!(
        w.comm.stats().joiner_handshakes,
        1,
        "no handshake on an old cookie"
    );
    assert_eq!(w.comm.joiner_sessions(), 0);
    let answer = &w.ba.all_relayed[relayed..];
    assert_eq!(answer.len(), 1);
    assert_ne!(hvr_cookie(&answer[0].record), Some(cb), "a fresh cookie");
}

/// Two captured cookie-bearing ClientHellos replayed alternately: no restart within the restart
/// interval, and a replay of a handshake the session already had never restarts it; a fresh one
/// restarts it once the interval has passed.
#[test]
fn replayed_and_alternating_hellos_do_not_restart_the_session() {
    let mut w = open_world();
    let f = Forger::new();
    let v = forged_addr(7, 0x0400);
    let h1 = f.session(&mut w, &v, random(1));
    let c2 = f.cookie(&mut w, &v, random(2)).unwrap();
    let h2 = f.hello(random(2), &c2);
    assert_eq!(w.comm.stats().joiner_handshakes, 1);
    for i in 0..20 {
        w.ba.relay_rx(&v, if i % 2 == 0 { &h2 } else { &h1 });
        advance(&mut w, Duration::from_millis(200));
    }
    assert_eq!(restarts(&w), 0);
    assert_eq!(w.comm.stats().joiner_handshakes, 1);
    // After the interval the fresh one restarts it, once; then the first is a replay.
    advance(&mut w, Duration::from_secs(2));
    for i in 0..20 {
        w.ba.relay_rx(&v, if i % 2 == 0 { &h2 } else { &h1 });
        advance(&mut w, Duration::from_millis(100));
    }
    assert_eq!(restarts(&w), 1);
    assert_eq!(w.comm.stats().joiner_handshakes, 2);
    assert_eq!(w.comm.joiner_sessions(), 1);
}

/// All 32 slots held by forged joiners: a real joiner still gets in at once (the oldest
/// unauthenticated session is evicted), and forged sessions end after the short timeout.
#[test]
fn full_slots_evict_the_oldest_unauthenticated_session() {
    let mut w = open_world();
    let f = Forger::new();
    for n in 0..32u32 {
        f.session(
            &mut w,
            &forged_addr(n, 0x0400 * (2 + (n % 8) as u16)),
            random(n),
        );
        advance(&mut w, Duration::from_millis(130));
    }
    assert_eq!(w.comm.joiner_sessions(), 32);
    let t = w.now;
    w.joiners
        .push(FakeJoiner::new(w.now, eui(3), "ANYPSK", 0x0400, 3));
    assert!(w.run_until(Duration::from_secs(3), |w| w.entrusted() == 1));
    assert!(w.now < t + w.comm.config().joiner_limits.unauthenticated_timeout);
    assert!(w.has(
        |e| matches!(e, Event::JoinerHandshakeFailed { reason: HandshakeFailure::Protocol(r), .. }
        if r.contains("evicted"))
    ));
}

/// One joiner router holds at most `sessions_per_router` sessions; others are not affected.
#[test]
fn one_router_holds_at_most_its_quota() {
    let mut w = open_world();
    w.comm.config.joiner_limits.sessions_per_router = 8;
    let f = Forger::new();
    for n in 0..12u32 {
        f.session(&mut w, &forged_addr(n, 0x0400), random(n));
        advance(&mut w, Duration::from_millis(600));
    }
    for n in 100..104u32 {
        f.session(&mut w, &forged_addr(n, 0x0800), random(n));
    }
    assert_eq!(w.comm.joiner_sessions(), 12);
}

/// A session that never sends its ClientKeyExchange ends after `unauthenticated_timeout`, not
/// after `joiner_session_timeout`.
#[test]
fn a_session_that_never_authenticates_ends_after_the_short_timeout() {
    let mut w = open_world();
    let f = Forger::new();
    f.session(&mut w, &forged_addr(1, 0x0400), random(1));
    assert_eq!(w.comm.joiner_sessions(), 1);
    let limit = w.comm.config().joiner_limits.unauthenticated_timeout;
    assert!(w.run_until(limit + Duration::from_millis(1), |w| w
        .comm
        .joiner_sessions()
        == 0));
    assert!(w.has(|e| matches!(
        e,
        Event::JoinerHandshakeFailed {
            reason: HandshakeFailure::Timeout,
            ..
        }
    )));
}

/// One joiner ID behind ten joiner routers: at most four unauthenticated events a minute for
/// it; the rest are counted as suppressed.
#[test]
fn unauthenticated_events_are_limited_per_joiner() {
    let mut w = open_world();
    let f = Forger::new();
    for n in 0..10u32 {
        f.session(&mut w, &forged_addr(1, 0x0400 * (1 + n as u16)), random(n));
    }
    assert_eq!(w.comm.joiner_sessions(), 10);
    let seen = w.count(|e| matches!(e, Event::JoinerSeen { .. }));
    assert_eq!(seen, 4);
    assert_eq!(w.comm.stats().suppressed_events, 6);
}

/// A replayed record from another UDP port does not move the session (its answer goes to the
/// joiner's port); the joiner's own authenticated records from a new port do.
#[test]
fn only_an_authenticated_record_moves_the_joiner_port() {
    let mut w = World::active();
    w.add(JoinerKind::Any, "ANYPSK", Duration::from_secs(600));
    let mut j = FakeJoiner::new(w.now, eui(5), "ANYPSK", 0x0400, 5);
    let now = w.now;
    let hello = j.conn.poll_transmit().unwrap();
    w.ba.relay_rx(&j.addr, &hello);
    w.shuttle();
    let hvr = w.ba.all_relayed.last().cloned().unwrap();
    j.conn.handle_datagram(now, &hvr.record);
    let hello2 = j.conn.poll_transmit().unwrap();
    w.ba.relay_rx(&j.addr, &hello2);
    w.shuttle();
    assert_eq!(w.comm.joiner_sessions(), 1);
    let flight: Vec<Relayed> = w.ba.all_relayed[1..].to_vec();
    // The attacker replays the ClientHello from port 5555: the flight is resent, to our port.
    let mut forged = j.addr;
    forged.joiner_udp_port = 5555;
    let before = w.ba.all_relayed.len();
    w.ba.relay_rx(&forged, &hello2);
    w.shuttle();
    assert!(w.ba.all_relayed.len() > before, "the flight is resent");
    assert!(w
        .ba
        .all_relayed
        .iter()
        .all(|r| r.addr.joiner_udp_port != 5555));
    // The joiner goes on from port 6000: its Finished authenticates, the session follows it.
    for r in &flight {
        j.conn.handle_datagram(now, &r.record);
    }
    j.addr.joiner_udp_port = 6000;
    let before = w.ba.all_relayed.len();
    w.joiners.push(j);
    assert!(w.run_until(Duration::from_secs(30), |w| w.entrusted() == 1));
    let after = &w.ba.all_relayed[before..];
    assert!(!after.is_empty());
    assert!(after.iter().all(|r| r.addr.joiner_udp_port == 6000));
    assert!(w
        .ba
        .all_relayed
        .iter()
        .all(|r| r.addr.joiner_udp_port != 5555));
}

/// 10,000 forged ClientHellos over 7.5 s of simulated time (cookie-less ones with fresh randoms,
/// cookie-bearing ones with fresh cookies, and replays of those; 2,000 joiner IDs behind 50
/// joiner routers, admitted by the wildcard entry) interleaved with two real joiners' handshakes
/// behind one of those routers: the one with its own EUI-64 entry is entrusted during the flood
/// (its handshakes draw on the named buckets); the one admitted by the wildcard competes with
/// the flood for the open bucket and is entrusted once the flood stops (a made-up joiner ID is
/// indistinguishable from it before the EC work). The EC work (server handshakes) and the events
/// stay within the limits.
#[test]
fn flood_of_forged_hellos_around_real_joiners() {
    let mut w = open_world();
    w.add_eui64(eui(3), "NAMED1");
    let f = Forger::new();
    let t0 = w.now;
    let events0 = w.events.len();
    let mut captured: Vec<(JoinerAddr, Vec<u8>)> = Vec::new();
    let mut sent = 0u32;
    let mut real_started = false;
    let mut step = 0u32;
    while sent < 10_000 {
        for _ in 0..50 {
            let n = sent;
            let a = forged_addr(n % 2000, 0x0400 * (1 + (n % 50) as u16));
            match n % 4 {
                // A fresh handshake: cookie-less, then with the cookie it got.
                0 | 1 => {
                    if let Some(c) = f.cookie(&mut w, &a, random(n)) {
                        let h = f.hello(random(n), &c);
                        w.ba.relay_rx(&a, &h);
                        captured.push((a, h));
                        sent += 1;
                    }
                }
                // A replay of a captured cookie-bearing ClientHello.
                2 if !captured.is_empty() => {
                    let (a, h) = captured[(n as usize * 7919) % captured.len()].clone();
                    w.ba.relay_rx(&a, &h);
                }
                _ => w.ba.relay_rx(&a, &f.hello(random(n), &[])),
            }
            sent += 1;
        }
        step += 1;
        if step == 20 && !real_started {
            // The real joiners start amid the flood.
            w.joiners
                .push(FakeJoiner::new(w.now, eui(3), "NAMED1", 0x0400, 3));
            w.joiners
                .push(FakeJoiner::new(w.now, eui(4), "ANYPSK", 0x0400, 4));
            real_started = true;
        }
        advance(&mut w, Duration::from_millis(50));
    }
    let named_done = w.has(|e| matches!(e, Event::JoinerEntrusted { joiner } if joiner.entry == JoinerKind::Eui64(eui(3))));
    assert!(named_done, "the named joiner got in during the flood");
    let flood_end = w.now;
    assert!(w.run_until(Duration::from_secs(30), |w| w.entrusted() == 2));
    eprintln!(
        "flood: {:?} simulated, the wildcard joiner entrusted {:?} after it; {:?}",
        flood_end - t0,
        w.now - flood_end,
        w.comm.stats()
    );
    let elapsed = w.now - t0;
    let limits = w.comm.config().joiner_limits.clone();
    let st = w.comm.stats().clone();
    // Server handshakes: at most the open burst plus one per interval of the elapsed time, and
    // the named joiner's few.
    let max_handshakes = u64::from(limits.handshakes_per_named_joiner.burst)
        + u64::from(limits.handshakes.burst)
        + (elapsed.as_nanos() / limits.handshakes.interval.as_nanos()) as u64;
    assert!(
        st.joiner_handshakes <= max_handshakes,
        "{st:?} in {elapsed:?}"
    );
    assert!(st.refused_handshakes > 1000, "{st:?}");
    // Events: the unauthenticated ones within the per-minute cap (this run spans at most two
    // windows), plus the real joiner's authenticated ones.
    let joiner_events = w.events[events0..]
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::JoinerSeen { .. }
                    | Event::JoinerHandshakeFailed { .. }
                    | Event::JoinerAuthenticated { .. }
                    | Event::JoinerFinalize { .. }
                    | Event::JoinerEntrusted { .. }
            )
        })
        .count();
    // One event window (a minute): at most its cap of unauthenticated events, the named
    // joiner's own per-joiner allowance, and the real joiners' three authenticated events each.
    assert!(elapsed < Duration::from_secs(60));
    let bound = limits.unauthenticated_events + limits.unauthenticated_events_per_joiner + 2 * 3;
    assert!(
        joiner_events <= bound as usize,
        "{joiner_events} events, more than {bound}"
    );
    assert!(st.suppressed_events > 0);
    assert!(w.comm.joiner_sessions() <= w.comm.config().max_joiner_sessions);
}

/// CPU time of this thread in ns (Linux `schedstat`, updated at scheduler ticks: only large
/// batches are measured), for the figure below.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Relays each record (from its address) into the commissioner and returns the CPU ns spent in
/// `Commissioner::handle_datagram` alone (the BA session's decryption, the RLY_RX parse, the
/// admission and whatever follows), not in the fake Border Agent or the forging.
fn timed_batch(w: &mut World, batch: &[(JoinerAddr, Vec<u8>)]) -> u64 {
    for (a, r) in batch {
        w.ba.relay_rx(a, r);
    }
    let mut ds = Vec::new();
    while let Some(d) = w.ba.conn.poll_transmit() {
        ds.push(d);
    }
    let t = thread_cpu_ns();
    for d in &ds {
        w.comm.handle_datagram(w.now, d);
    }
    let ns = thread_cpu_ns() - t;
    w.shuttle();
    ns
}

/// The figure for the report: CPU time per forged datagram, by kind. Run with
/// `cargo test -p meshcop --release --lib -- --ignored --nocapture cpu_per_forged_datagram`.
#[test]
#[ignore = "a measurement, not a check; run with --release"]
fn cpu_per_forged_datagram() {
    let mut w = open_world();
    let f = Forger::new();
    let n = 10_000u32;
    let addr = |i: u32| forged_addr(i % 2000, 0x0400 * (1 + (i % 50) as u16));
    // 1. Cookie-less ClientHellos: a HelloVerifyRequest each.
    let batch: Vec<_> = (0..n).map(|i| (addr(i), f.hello(random(i), &[]))).collect();
    let hvr = timed_batch(&mut w, &batch);
    // 2. Valid cookies, the handshake bucket empty: refused before any EC work.
    let mut fresh: Vec<_> = (0..n + 16)
        .map(|i| {
            let a = addr(n + i);
            let c = f.cookie(&mut w, &a, random(n + i)).unwrap();
            (a, f.hello(random(n + i), &c))
        })
        .collect();
    let admitted_batch: Vec<_> = fresh.drain(..16).collect();
    let admitted = timed_batch(&mut w, &admitted_batch);
    let handshakes = w.comm.stats().joiner_handshakes;
    let refused = timed_batch(&mut w, &fresh);
    assert_eq!(w.comm.stats().joiner_handshakes, handshakes, "all refused");
    // 3. Replays of the admitted ones (their sessions answer with a retransmission).
    let replay_batch: Vec<_> = admitted_batch
        .iter()
        .cycle()
        .take(n as usize)
        .cloned()
        .collect();
    let wall = Instant::now();
    let replays = timed_batch(&mut w, &replay_batch);
    let replay_wall = wall.elapsed();
    eprintln!(
        "CPU per forged datagram (ns): cookie-less {} | valid cookie, refused by the rate {} | \
         replay of a session's ClientHello {} | admitted (EC-JPAKE server flight) {}",
        hvr / u64::from(n),
        refused / fresh.len() as u64,
        replays / replay_batch.len() as u64,
        admitted / admitted_batch.len() as u64,
    );
    eprintln!(
        "handshakes admitted in the batch of 16: {handshakes}; replays wall {:?} for {} (schedstat \
         is tick-grained: each batch is large)",
        replay_wall,
        replay_batch.len()
    );
}

/// A session's cookie-bearing ClientHello replayed 20 times at once makes it resend its flight
/// once, not 20 times (each resend is several datagrams for one).
#[test]
fn replays_of_a_sessions_hello_resend_its_flight_at_most_once_a_second() {
    let mut w = open_world();
    let f = Forger::new();
    let v = forged_addr(9, 0x0400);
    let h = f.session(&mut w, &v, random(9));
    let before = w.ba.all_relayed.len();
    for _ in 0..20 {
        w.ba.relay_rx(&v, &h);
    }
    w.shuttle();
    let resent = w.ba.all_relayed[before..]
        .iter()
        .filter(|r| dtls::starts_with_server_hello(&r.record))
        .count();
    assert_eq!(resent, 1);
    advance(&mut w, Duration::from_secs(1));
    let before = w.ba.all_relayed.len();
    w.ba.relay_rx(&v, &h);
    w.shuttle();
    assert!(w.ba.all_relayed[before..]
        .iter()
        .any(|r| dtls::starts_with_server_hello(&r.record)));
}

/// Sessions younger than `evictable_after` are not evicted: joiners arriving together do not
/// evict each other (the newcomer waits for room); an older one is.
#[test]
fn young_sessions_are_not_evicted() {
    let mut w = open_world();
    w.comm.config.joiner_limits.sessions_per_router = 2;
    let f = Forger::new();
    f.session(&mut w, &forged_addr(1, 0x0400), random(1));
    f.session(&mut w, &forged_addr(2, 0x0400), random(2));
    advance(&mut w, Duration::from_millis(500));
    f.session(&mut w, &forged_addr(3, 0x0400), random(3));
    assert_eq!(w.comm.joiner_sessions(), 2);
    assert_eq!(w.comm.waiting_joiners(), 1);
    assert_eq!(w.comm.stats().refused_handshakes, 0);
    let evicted = |w: &World| {
        w.count(|e| {
            matches!(e, Event::JoinerHandshakeFailed { reason: HandshakeFailure::Protocol(r), .. }
            if r.contains("evicted"))
        })
    };
    assert_eq!(evicted(&w), 0);
    // Once the first two are old enough, the waiting one gets in by evicting the oldest.
    advance(&mut w, Duration::from_secs(2));
    assert_eq!(w.comm.joiner_sessions(), 2);
    assert_eq!(w.comm.waiting_joiners(), 0);
    assert_eq!(evicted(&w), 1);
}
