//! In-memory client/server tests with a simulated clock and a seeded lossy network.

use super::*;
use crate::testing::XorShiftRng;
use proptest::prelude::*;

fn rng(seed: u64) -> Box<dyn CryptoRng + Send> {
    Box::new(XorShiftRng(seed | 1))
}

fn pair(
    cpw: &[u8],
    spw: &[u8],
    seed: u64,
    tweak: impl Fn(&mut Config, Role),
) -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let mut cc = Config::client(cpw);
    let mut sc = Config::server(spw);
    tweak(&mut cc, Role::Client);
    tweak(&mut sc, Role::Server);
    let c = Connection::client(cc, rng(seed), now).unwrap();
    let s = Connection::server(
        sc,
        b"cookie secret",
        b"[fe80::1]:49191",
        rng(seed.wrapping_mul(31) + 7),
    )
    .unwrap();
    (c, s, now)
}

/// A deterministic network: drops, duplicates and reorders datagrams by a seeded generator.
struct Net {
    state: u64,
    loss_percent: u64,
    reorder: bool,
    to_server: Vec<Vec<u8>>,
    to_client: Vec<Vec<u8>>,
    /// Datagrams handed to the network so far.
    carried: usize,
}

impl Net {
    fn new(seed: u64, loss_percent: u64, reorder: bool) -> Self {
        Net {
            state: seed | 1,
            loss_percent,
            reorder,
            to_server: vec![],
            to_client: vec![],
            carried: 0,
        }
    }
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
    fn carry(&mut self, d: Vec<u8>, to_server: bool) {
        self.carried += 1;
        if self.next() % 100 < self.loss_percent {
            return;
        }
        let dup = self.loss_percent > 0 && self.next() % 100 < 5;
        let q = if to_server {
            &mut self.to_server
        } else {
            &mut self.to_client
        };
        if dup {
            q.push(d.clone());
        }
        q.push(d);
    }
    fn take(&mut self, to_server: bool) -> Vec<Vec<u8>> {
        let mut q = std::mem::take(if to_server {
            &mut self.to_server
        } else {
            &mut self.to_client
        });
        if self.reorder && q.len() > 1 {
            for i in (1..q.len()).rev() {
                let j = (self.next() % (i as u64 + 1)) as usize;
                q.swap(i, j);
            }
        }
        q
    }
}

#[derive(Default, Debug)]
struct Seen {
    client: Vec<Event>,
    server: Vec<Event>,
}

/// Runs until both are connected or one finished; returns the events seen.
fn drive(
    c: &mut Connection,
    s: &mut Connection,
    net: &mut Net,
    mut now: Instant,
) -> (Seen, Instant) {
    let mut seen = Seen::default();
    for _ in 0..10_000 {
        while let Some(d) = c.poll_transmit() {
            net.carry(d, true);
        }
        while let Some(d) = s.poll_transmit() {
            net.carry(d, false);
        }
        while let Some(e) = c.poll_event() {
            seen.client.push(e);
        }
        while let Some(e) = s.poll_event() {
            seen.server.push(e);
        }
        if (c.is_connected() && s.is_connected()) || c.is_finished() || s.is_finished() {
            // deliver what is left once, so alerts reach the other side
            for d in net.take(true) {
                s.handle_datagram(now, &d);
            }
            for d in net.take(false) {
                c.handle_datagram(now, &d);
            }
            while let Some(e) = c.poll_event() {
                seen.client.push(e);
            }
            while let Some(e) = s.poll_event() {
                seen.server.push(e);
            }
            return (seen, now);
        }
        let (a, b) = (net.take(true), net.take(false));
        if a.is_empty() && b.is_empty() {
            let next = [c.poll_timeout(), s.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) => {
                    now = now.max(t);
                    c.handle_timeout(now);
                    s.handle_timeout(now);
                }
                None => return (seen, now),
            }
        }
        for d in a {
            s.handle_datagram(now, &d);
        }
        for d in b {
            c.handle_datagram(now, &d);
        }
    }
    panic!("no progress");
}

fn exchange(c: &mut Connection, s: &mut Connection, now: Instant) {
    c.send(b"ping from client").unwrap();
    while let Some(d) = c.poll_transmit() {
        s.handle_datagram(now, &d);
    }
    assert_eq!(
        s.poll_event(),
        Some(Event::ApplicationData(b"ping from client".to_vec()))
    );
    let big: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    s.send(&big).unwrap();
    let mut got = Vec::new();
    while let Some(d) = s.poll_transmit() {
        c.handle_datagram(now, &d);
    }
    while let Some(Event::ApplicationData(p)) = c.poll_event() {
        got.extend(p);
    }
    assert_eq!(got, big);
}

#[test]
fn handshake_and_application_data() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 1, |_, _| {});
    let mut net = Net::new(1, 0, false);
    let (seen, now) = drive(&mut c, &mut s, &mut net, now);
    assert_eq!(seen.client, vec![Event::Connected]);
    assert_eq!(seen.server, vec![Event::Connected]);
    assert!(c.key_block().is_some());
    assert_eq!(c.key_block(), s.key_block());
    exchange(&mut c, &mut s, now);
    c.close();
    assert_eq!(c.poll_event(), Some(Event::Closed));
    while let Some(d) = c.poll_transmit() {
        s.handle_datagram(now, &d);
    }
    assert_eq!(s.poll_event(), Some(Event::Closed));
    assert_eq!(s.send(b"x"), Err(Error::Closed));
}

/// Issue 10, first bullet: the server adopts the peer's ClientHello `message_seq`; one near
/// `u16::MAX` must neither overflow the pending-message window (a panic in debug builds) nor drop
/// every in-sequence message (release), and a flight whose numbers wrap past `u16::MAX` is taken
/// in order. The client's window sees the same numbers.
#[test]
fn handshake_with_message_seq_near_u16_max() {
    // Small datagrams, reordered: a flight's messages arrive out of order. The datagrams a
    // handshake takes are the same whatever the starting message_seq.
    let handshake = |first: u16| {
        let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 4, |c, role| {
            if role == Role::Server {
                c.mtu = 200;
            }
        });
        // The cookie-bearing ClientHello (the one the server adopts) gets message_seq `first`.
        c.next_send_seq = first;
        let mut net = Net::new(4, 0, true);
        let (seen, end) = drive(&mut c, &mut s, &mut net, now);
        assert_eq!(seen.client, vec![Event::Connected], "message_seq {first}");
        assert_eq!(seen.server, vec![Event::Connected], "message_seq {first}");
        assert_eq!(c.key_block(), s.key_block());
        (net.carried, end - now)
    };
    let usual = handshake(1);
    for first in 65527u16..=65535 {
        assert_eq!(handshake(first), usual, "message_seq {first}");
    }
}

#[test]
fn server_answers_first_hello_with_cookie_and_keeps_no_state() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 2, |_, _| {});
    let ch = c.poll_transmit().unwrap();
    s.handle_datagram(now, &ch);
    let hvr = s.poll_transmit().unwrap();
    assert!(s.poll_transmit().is_none());
    assert!(
        s.poll_timeout().is_none(),
        "no state, no timer before a valid cookie"
    );
    let recs = parse_records(&hvr);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].fragment[0], HT_HELLO_VERIFY_REQUEST);
    // A hello from another address gets another cookie.
    let mut s2 = Connection::server(
        Config::server(b"J01NME"),
        b"cookie secret",
        b"[fe80::2]:49191",
        rng(3),
    )
    .unwrap();
    s2.handle_datagram(now, &ch);
    assert_ne!(s2.poll_transmit().unwrap(), hvr);
}

#[test]
fn handshake_survives_loss_and_reordering() {
    for seed in 1..=12u64 {
        let (mut c, mut s, now) = pair(b"PSKC0123456789AB", b"PSKC0123456789AB", seed, |_, _| {});
        let mut net = Net::new(seed * 7919, 25, true);
        let (seen, now) = drive(&mut c, &mut s, &mut net, now);
        assert!(
            c.is_connected() && s.is_connected(),
            "seed {seed}: {seen:?}"
        );
        assert_eq!(c.key_block(), s.key_block());
        exchange(&mut c, &mut s, now);
    }
}

#[test]
fn handshake_with_small_mtu_fragments_and_reassembles() {
    // The server does not reassemble a ClientHello before its cookie (neither does Mbed TLS), so
    // only the server's flights are fragmented here (the client's reassembly is what is tested).
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 5, |cfg, role| {
        if role == Role::Server {
            cfg.mtu = 120;
            cfg.max_record_plaintext = 60;
        }
    });
    let mut net = Net::new(5, 10, true);
    let (_, now) = drive(&mut c, &mut s, &mut net, now);
    assert!(c.is_connected() && s.is_connected());
    s.send(&[7u8; 300]).unwrap();
    let mut n = 0;
    while let Some(d) = s.poll_transmit() {
        assert!(d.len() <= 120);
        c.handle_datagram(now, &d);
        n += 1;
    }
    assert!(n > 1);
}

/// Runs `conn`'s timers (nothing arrives) until it finishes; returns its events and the time.
fn run_timers(conn: &mut Connection, mut now: Instant) -> (Vec<Event>, Instant) {
    let mut ev = Vec::new();
    while let Some(at) = conn.poll_timeout() {
        while conn.poll_transmit().is_some() {}
        now = now.max(at);
        conn.handle_timeout(now);
    }
    ev.extend(std::iter::from_fn(|| conn.poll_event()));
    (ev, now)
}

/// Issue 10: the server's check is conclusive (the client's Finished, in the datagram whose
/// ClientKeyExchange derived the server's keys, does not authenticate); the client only gets the
/// server's plaintext bad_record_mac alert, which anyone could forge: it does not end the session
/// at once, and the next retransmission timer ends it as a possible wrong password.
#[test]
fn wrong_password_is_bad_password_on_server_possible_on_client() {
    for seed in [1u64, 2] {
        let (mut c, mut s, now) = pair(b"J01NME", b"J01NMF", seed, |_, _| {});
        let mut net = Net::new(seed, 0, false);
        let (seen, now) = drive(&mut c, &mut s, &mut net, now);
        assert_eq!(
            seen.server,
            vec![Event::Failed(Error::BadPassword)],
            "{seen:?}"
        );
        assert_eq!(seen.client, vec![], "the alert alone ends nothing");
        let armed = c.poll_timeout().unwrap();
        let (ev, end) = run_timers(&mut c, now);
        assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);
        assert_eq!(end, armed, "ended at the next timer, without the backoff");
    }
}

/// Splits a datagram into its records, each re-encoded on its own.
fn records_of(d: &[u8]) -> Vec<Vec<u8>> {
    parse_records(d)
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            Record::encode(r.content_type, r.epoch, r.seq, r.fragment, &mut out);
            out
        })
        .collect()
}

/// A plaintext fatal alert, as anyone could send it.
fn forged_alert(desc: u8) -> Vec<u8> {
    let mut d = Vec::new();
    Record::encode(CT_ALERT, 0, 40, &[2, desc], &mut d);
    d
}

/// An epoch-1 handshake record of garbage (it cannot authenticate).
fn forged_epoch1(seq: u64) -> Vec<u8> {
    let mut d = Vec::new();
    Record::encode(CT_HANDSHAKE, 1, seq, &[0x5a; 40], &mut d);
    d
}

/// The handshake up to the client's flight 5 (ClientKeyExchange, ChangeCipherSpec, Finished),
/// returned as records, not yet delivered.
fn up_to_flight5(c: &mut Connection, s: &mut Connection, now: Instant) -> Vec<Vec<u8>> {
    for _ in 0..2 {
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(now, &d);
        }
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(now, &d);
        }
    }
    let f5: Vec<Vec<u8>> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert_eq!(f5.len(), 1, "flight 5 in one datagram");
    let recs = records_of(&f5[0]);
    assert_eq!(recs.len(), 3, "CKE, CCS, Finished");
    recs
}

/// Issue 10: forged alerts and epoch-1 garbage mid-handshake, on both sides, once each side has
/// its keys: neither ends the session nor says "wrong password"; the genuine records complete it.
#[test]
fn forged_alert_and_epoch1_garbage_mid_handshake_are_dropped() {
    for desc in [
        alert::BAD_RECORD_MAC,
        alert::DECRYPT_ERROR,
        alert::CLOSE_NOTIFY,
    ] {
        let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 21, |_, _| {});
        let f5 = up_to_flight5(&mut c, &mut s, now);
        // The client has its keys and waits for the server's Finished.
        c.handle_datagram(now, &forged_alert(desc));
        c.handle_datagram(now, &forged_epoch1(0));
        // The server gets the ClientKeyExchange alone (its keys), then forgeries, then the rest.
        s.handle_datagram(now, &f5[0]);
        assert!(matches!(s.state, State::ServerAwaitFinished));
        s.handle_datagram(now, &forged_epoch1(0));
        s.handle_datagram(now, &forged_epoch1(7));
        s.handle_datagram(now, &forged_alert(desc));
        // Plaintext handshake messages in the Finished's place: a Finished, an unexpected one.
        for msg_type in [HT_FINISHED, HT_SERVER_HELLO] {
            let mut d = Vec::new();
            let m = encode_message(msg_type, s.next_recv_seq, &[0; 12]);
            Record::encode(CT_HANDSHAKE, 0, 60, &m, &mut d);
            s.handle_datagram(now, &d);
        }
        s.handle_datagram(now, &[f5[1].clone(), f5[2].clone()].concat());
        assert_eq!(s.poll_event(), Some(Event::Connected), "desc {desc}");
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(now, &d);
        }
        assert_eq!(c.poll_event(), Some(Event::Connected), "desc {desc}");
        assert_eq!(c.key_block(), s.key_block());
    }
}

/// Issue 10: a forged alert, then silence (the genuine server never answers): the client ends
/// at its next timer as a possible wrong password, never as a wrong password.
#[test]
fn forged_alert_then_silence_is_only_possible_wrong_password() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 22, |_, _| {});
    let _lost = up_to_flight5(&mut c, &mut s, now);
    assert!(!c.password_suspected());
    c.handle_datagram(now, &forged_alert(alert::BAD_RECORD_MAC));
    assert!(!c.is_finished());
    assert!(c.password_suspected());
    let (ev, _) = run_timers(&mut c, now);
    assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);
    // Epoch-1 garbage then silence: the same, after the whole backoff.
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 23, |_, _| {});
    let _lost = up_to_flight5(&mut c, &mut s, now);
    c.handle_datagram(now, &forged_epoch1(0));
    let (ev, _) = run_timers(&mut c, now);
    assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);
}

/// Issue 10: a wrong password whose Finished arrives apart from the ClientKeyExchange is not
/// conclusive (a forger could have sent that record): dropped, and the server's timeout says
/// "possible"; the same Finished in the ClientKeyExchange's datagram is conclusive.
#[test]
fn wrong_password_finished_apart_from_key_exchange_is_only_possible() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NMF", 24, |_, _| {});
    let f5 = up_to_flight5(&mut c, &mut s, now);
    s.handle_datagram(now, &f5[0]);
    s.handle_datagram(now, &[f5[1].clone(), f5[2].clone()].concat());
    assert!(!s.is_finished(), "dropped silently");
    let (ev, _) = run_timers(&mut s, now);
    assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);

    let (mut c, mut s, now) = pair(b"J01NME", b"J01NMF", 24, |_, _| {});
    let f5 = up_to_flight5(&mut c, &mut s, now);
    s.handle_datagram(now, &f5.concat());
    assert_eq!(s.poll_event(), Some(Event::Failed(Error::BadPassword)));
}

/// Issue 10: a Finished that authenticates but does not match the transcript comes from a peer
/// with our keys (so our password): the handshake fails, but not as a password error.
#[test]
fn finished_mismatch_under_our_keys_is_not_a_password_error() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 25, |_, _| {});
    let f5 = up_to_flight5(&mut c, &mut s, now);
    s.handle_datagram(now, &f5[0]);
    s.transcript.push(0); // as if a plaintext handshake message had been altered in flight
    s.handle_datagram(now, &[f5[1].clone(), f5[2].clone()].concat());
    match s.poll_event() {
        Some(Event::Failed(Error::PeerMisbehaved(_))) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn silent_peer_times_out() {
    let now = Instant::now();
    let mut c = Connection::client(Config::client(b"J01NME"), rng(9), now).unwrap();
    let mut t = now;
    let mut sent = 0;
    while let Some(at) = c.poll_timeout() {
        while c.poll_transmit().is_some() {
            sent += 1;
        }
        t = at;
        c.handle_timeout(t);
    }
    assert_eq!(c.poll_event(), Some(Event::Failed(Error::Timeout)));
    // 1, 2, 4, 8, 16, 32, 60 s: the first hello and 6 retransmissions
    assert_eq!(sent, 7);
    assert_eq!(t - now, Duration::from_secs(1 + 2 + 4 + 8 + 16 + 32 + 60));
}

fn connected_pair(seed: u64) -> (Connection, Connection, Instant) {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", seed, |_, _| {});
    let mut net = Net::new(seed, 0, false);
    let (_, now) = drive(&mut c, &mut s, &mut net, now);
    assert!(c.is_connected() && s.is_connected());
    (c, s, now)
}

#[test]
fn replayed_record_is_dropped() {
    let (mut c, mut s, now) = connected_pair(3);
    c.send(b"once").unwrap();
    let d = c.poll_transmit().unwrap();
    s.handle_datagram(now, &d);
    s.handle_datagram(now, &d);
    assert_eq!(
        s.poll_event(),
        Some(Event::ApplicationData(b"once".to_vec()))
    );
    assert_eq!(s.poll_event(), None);
    assert!(s.is_connected());
}

#[test]
fn tampered_record_is_dropped() {
    let (mut c, mut s, now) = connected_pair(4);
    c.send(b"secret").unwrap();
    let d = c.poll_transmit().unwrap();
    for i in HEADER_LEN..d.len() {
        let mut t = d.clone();
        t[i] ^= 0x01;
        s.handle_datagram(now, &t);
        assert_eq!(s.poll_event(), None);
    }
    assert!(s.is_connected());
    s.handle_datagram(now, &d);
    assert_eq!(
        s.poll_event(),
        Some(Event::ApplicationData(b"secret".to_vec()))
    );
}

#[test]
fn server_retransmits_finished_when_client_repeats_its_flight() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 6, |_, _| {});
    // CH1 -> HVR -> CH2 -> flight 4
    let d = c.poll_transmit().unwrap();
    s.handle_datagram(now, &d);
    let d = s.poll_transmit().unwrap();
    c.handle_datagram(now, &d);
    while let Some(d) = c.poll_transmit() {
        s.handle_datagram(now, &d);
    }
    while let Some(d) = s.poll_transmit() {
        c.handle_datagram(now, &d);
    }
    let f5: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    for d in &f5 {
        s.handle_datagram(now, d);
    }
    assert!(s.is_connected());
    let _lost_f6: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    // client times out and repeats flight 5; the server answers with flight 6 again
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    while let Some(d) = c.poll_transmit() {
        s.handle_datagram(t, &d);
    }
    while let Some(d) = s.poll_transmit() {
        c.handle_datagram(t, &d);
    }
    assert!(c.is_connected());
    assert_eq!(c.poll_event(), Some(Event::Connected));
}

/// Issue 10: a record whose plaintext is over 2^14 bytes is dropped (here a genuine ClientHello
/// followed by a long handshake fragment: no HelloVerifyRequest).
#[test]
fn oversized_plaintext_record_is_dropped() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 26, |_, _| {});
    let ch = c.poll_transmit().unwrap();
    let rec = parse_records(&ch)[0].clone();
    let build = |pad: usize| {
        let mut frag = rec.fragment.to_vec();
        encode_fragment(HT_CLIENT_HELLO, 9, &vec![0; pad], 0, pad, &mut frag);
        let mut d = Vec::new();
        Record::encode(CT_HANDSHAKE, 0, rec.seq, &frag, &mut d);
        d
    };
    let at_limit = MAX_PLAINTEXT - rec.fragment.len() - HS_HEADER_LEN;
    s.handle_datagram(now, &build(at_limit));
    assert!(s.poll_transmit().is_some(), "2^14 bytes: answered");
    s.handle_datagram(now, &build(at_limit + 1));
    assert!(s.poll_transmit().is_none(), "2^14 + 1 bytes: dropped");
}

/// Issue 10: a protected record over 2^14 + 2048 bytes, or one whose plaintext is over 2^14, is
/// dropped; 2^14 bytes of plaintext are taken.
#[test]
fn oversized_protected_record_is_dropped() {
    let (mut c, mut s, now) = connected_pair(27);
    for (len, taken) in [
        (MAX_PLAINTEXT, true),
        (MAX_PLAINTEXT + 1, false),
        (MAX_CIPHERTEXT - AEAD_OVERHEAD + 1, false),
    ] {
        let mut d = Vec::new();
        let seq = c.write_seq[1];
        c.write_seq[1] += 1;
        let w = c.write_cipher.as_ref().unwrap();
        w.seal(CT_APPLICATION_DATA, 1, seq, &vec![7; len], &mut d);
        s.handle_datagram(now, &d);
        assert_eq!(s.poll_event().is_some(), taken, "plaintext of {len}");
        assert!(s.is_connected());
    }
}

/// Issue 10: handshake messages are not reassembled past a bound: one over `MAX_MESSAGE_LEN`
/// never, and messages ahead of the next expected one share `MAX_AHEAD_BYTES`; the genuine next
/// message is still taken and the handshake completes.
#[test]
fn reassembly_memory_is_bounded() {
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 28, |_, _| {});
    let f5 = up_to_flight5(&mut c, &mut s, now);
    let next = s.next_recv_seq;
    let mut junk = Vec::new();
    for (i, len) in [
        (0u16, 0xff_ffffu32),
        (1, 4096),
        (2, 4096),
        (3, 4000),
        (8, 4096),
    ] {
        let at = junk.len();
        encode_fragment(
            HT_CLIENT_KEY_EXCHANGE,
            next.wrapping_add(i),
            &[0],
            0,
            1,
            &mut junk,
        );
        // The declared message length (bytes 1..4 of the header): far more than the fragment.
        junk[at + 1..at + 4].copy_from_slice(&len.to_be_bytes()[1..]);
    }
    let mut d = Vec::new();
    Record::encode(CT_HANDSHAKE, 0, 90, &junk, &mut d);
    s.handle_datagram(now, &d);
    let held: usize = s.pending.values().map(|r| r.message_len()).sum();
    assert!(held <= 4096, "held {held} bytes");
    assert!(
        !s.pending.contains_key(&next),
        "the over-long one is not kept"
    );
    s.handle_datagram(now, &f5.concat());
    assert_eq!(s.poll_event(), Some(Event::Connected));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn random_datagrams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 8, |_, _| {});
        c.handle_datagram(now, &data);
        s.handle_datagram(now, &data);
        let (mut c2, mut s2, now2) = connected_pair(8);
        c2.handle_datagram(now2, &data);
        s2.handle_datagram(now2, &data);
    }

    #[test]
    fn random_records_never_panic(ct in 19u8..25, epoch in 0u16..2, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut d = Vec::new();
        Record::encode(ct, epoch, 1, &body, &mut d);
        let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 8, |_, _| {});
        c.handle_datagram(now, &d);
        s.handle_datagram(now, &d);
        let _ = ClientHello::parse(&body);
        let _ = ServerHello::parse(&body);
        let _ = HelloVerifyRequest::parse(&body);
        let _ = parse_fragments(&body);
    }

    /// The cargo-fuzz entry points (meshcop/fuzz) under proptest.
    #[test]
    fn fuzz_entry_points_never_panic(sel in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzzing::record(&data);
        fuzzing::handshake(&data);
        fuzzing::tlv(&data);
        let mut e = vec![sel];
        e.extend_from_slice(&data);
        fuzzing::ecjpake(&e);
        fuzzing::connection(&data);
    }
}

/// Live interoperability with Mbed TLS 3.6 (OpenThread's TLS library): runs only when
/// `MBEDTLS_PEER` names a binary built by `src/dtls/interop/build.sh`; `MBEDTLS_PEER_PORT` picks the
/// loopback port (default 45871).
mod mbedtls_interop {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::UdpSocket;
    use std::process::{Child, Command, Stdio};

    fn peer() -> Option<(String, u16)> {
        let bin = std::env::var("MBEDTLS_PEER").ok()?;
        let port = std::env::var("MBEDTLS_PEER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(45871);
        Some((bin, port))
    }

    struct Peer(Child);
    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(
        bin: &str,
        mode: &str,
        port: u16,
        pw: &str,
    ) -> (Peer, BufReader<std::process::ChildStdout>) {
        let mut child = Command::new(bin)
            .args([mode, &port.to_string(), pw])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mbedtls_peer");
        let out = BufReader::new(child.stdout.take().unwrap());
        (Peer(child), out)
    }

    /// Pumps `conn` over `sock` until connected / finished / the deadline; returns events.
    fn pump(
        conn: &mut Connection,
        sock: &UdpSocket,
        until: impl Fn(&[Event]) -> bool,
    ) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut events = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            while let Some(d) = conn.poll_transmit() {
                sock.send(&d).unwrap();
            }
            while let Some(e) = conn.poll_event() {
                events.push(e);
            }
            if until(&events) || conn.is_finished() {
                break;
            }
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            match sock.recv(&mut buf) {
                Ok(n) => conn.handle_datagram(Instant::now(), &buf[..n]),
                Err(_) => conn.handle_timeout(Instant::now()),
            }
        }
        while let Some(d) = conn.poll_transmit() {
            let _ = sock.send(&d);
        }
        events
    }

    fn lines(out: BufReader<std::process::ChildStdout>) -> Vec<String> {
        out.lines().map_while(Result::ok).collect()
    }

    fn keyblock(lines: &[String]) -> Option<String> {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("KEYBLOCK ").map(str::to_string))
    }

    #[test]
    fn our_client_with_mbedtls_server() {
        let Some((bin, port)) = peer() else { return };
        for (pw_ours, pw_theirs) in [("J01NME", "J01NME"), ("J01NME", "J01NMF")] {
            let (_p, mut out) = spawn(&bin, "server", port, pw_theirs);
            let mut l = String::new();
            out.read_line(&mut l).unwrap();
            assert_eq!(l.trim(), "LISTENING");
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.connect(("127.0.0.1", port)).unwrap();
            let mut c =
                Connection::client(Config::client(pw_ours.as_bytes()), rng(11), Instant::now())
                    .unwrap();
            let ev = pump(&mut c, &sock, |e| e.contains(&Event::Connected));
            if pw_ours != pw_theirs {
                // Mbed TLS answers our Finished with a plaintext bad_record_mac: only a hint.
                assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);
                continue;
            }
            assert_eq!(ev, vec![Event::Connected], "events");
            c.send(b"hello from rust").unwrap();
            let ev = pump(&mut c, &sock, |e| {
                e.iter().any(|x| matches!(x, Event::ApplicationData(_)))
            });
            assert_eq!(
                ev[0],
                Event::ApplicationData(b"echo: hello from rust".to_vec())
            );
            let ev = pump(&mut c, &sock, |e| e.contains(&Event::Closed));
            assert!(
                ev.contains(&Event::Closed),
                "close_notify from mbedtls: {ev:?}"
            );
            let lines = lines(out);
            assert_eq!(
                keyblock(&lines),
                c.key_block().map(hex::encode),
                "{lines:?}"
            );
            assert!(
                lines.iter().any(|l| l == "RECV hello from rust"),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn mbedtls_client_with_our_server() {
        let Some((bin, port)) = peer() else { return };
        let port = port + 1;
        for (pw_ours, pw_theirs) in [("J01NME", "J01NME"), ("J01NME", "J01NMF")] {
            let sock = UdpSocket::bind(("127.0.0.1", port)).unwrap();
            let (_p, out) = spawn(&bin, "client", port, pw_theirs);
            let mut buf = [0u8; 2048];
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            sock.connect(from).unwrap();
            let mut s = Connection::server(
                Config::server(pw_ours.as_bytes()),
                b"k",
                from.to_string().as_bytes(),
                rng(12),
            )
            .unwrap();
            s.handle_datagram(Instant::now(), &buf[..n]);
            let ev = pump(&mut s, &sock, |e| {
                e.iter().any(|x| matches!(x, Event::ApplicationData(_)))
            });
            if pw_ours != pw_theirs {
                assert_eq!(ev, vec![Event::Failed(Error::BadPassword)]);
                let lines = lines(out);
                assert!(
                    lines.iter().any(|l| l.starts_with("HANDSHAKE FAILED")),
                    "{lines:?}"
                );
                continue;
            }
            assert_eq!(
                ev,
                vec![
                    Event::Connected,
                    Event::ApplicationData(b"hello from mbedtls".to_vec())
                ]
            );
            s.send(b"echo from rust").unwrap();
            let ev = pump(&mut s, &sock, |e| e.contains(&Event::Closed));
            assert!(ev.contains(&Event::Closed), "{ev:?}");
            let lines = lines(out);
            assert_eq!(
                keyblock(&lines),
                s.key_block().map(hex::encode),
                "{lines:?}"
            );
            assert!(
                lines.iter().any(|l| l == "RECV echo from rust"),
                "{lines:?}"
            );
        }
    }
}

/// Writes the datagrams of one handshake as fuzz seeds when `FUZZ_SEED_DIR` is set.
#[test]
fn dump_fuzz_seeds() {
    let Ok(dir) = std::env::var("FUZZ_SEED_DIR") else {
        return;
    };
    let (mut c, mut s, now) = pair(b"J01NME", b"J01NME", 21, |_, _| {});
    let mut all = Vec::new();
    for _ in 0..6 {
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(now, &d);
            all.push(d);
        }
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(now, &d);
            all.push(d);
        }
    }
    c.send(b"app data").unwrap();
    all.push(c.poll_transmit().unwrap());
    for (i, d) in all.iter().enumerate() {
        for t in ["dtls_record", "dtls_connection"] {
            std::fs::create_dir_all(format!("{dir}/{t}")).unwrap();
            std::fs::write(format!("{dir}/{t}/seed-{i}"), d).unwrap();
        }
        std::fs::create_dir_all(format!("{dir}/dtls_handshake")).unwrap();
        for (j, r) in parse_records(d).iter().enumerate() {
            if r.content_type == CT_HANDSHAKE && r.epoch == 0 {
                std::fs::write(format!("{dir}/dtls_handshake/seed-{i}-{j}"), r.fragment).unwrap();
            }
        }
    }
    std::fs::create_dir_all(format!("{dir}/ecjpake")).unwrap();
    use crate::ecjpake::tests::{CLI_ONE, CLI_TWO, SRV_ONE, SRV_TWO};
    for (i, (sel, m)) in [(0u8, SRV_ONE), (1, CLI_ONE), (2, SRV_TWO), (3, CLI_TWO)]
        .iter()
        .enumerate()
    {
        let mut v = vec![*sel];
        v.extend(hex::decode(m).unwrap());
        std::fs::write(format!("{dir}/ecjpake/seed-{i}"), v).unwrap();
    }
}

/// Live interoperability with the OpenThread simulation NCP's Border Agent, reached through the
/// Spinel UDP forward stream (thread-facts §1), with a minimal HDLC/Spinel driver of its own so it
/// does not depend on the `ncp` crate. Runs only when `OT_NCP_FTD` names an `ot-ncp-ftd` binary;
/// `OT_PORT_OFFSET` picks the simulation's PORT_OFFSET (default 211).
mod ot_border_agent_interop {
    use super::*;
    use crate::test_support::sim_ncp::{border_agent, temp_dir, Ncp, Node, PSKC};
    use std::process::Command;

    fn spawn_ncp(bin: &str, port_offset: &str) -> Ncp {
        // Through a pseudo-terminal (util-linux `script`): over plain pipes the simulation NCP
        // stopped answering after its first STREAM_NET_INSECURE frame (seen here every time).
        let mut cmd = Command::new("script");
        cmd.args([
            "-qfec",
            &format!("stty raw -echo; exec {bin} 1"),
            "/dev/null",
        ]);
        let (node, out) = Node::spawn(cmd, temp_dir("dtls-ot-interop"), port_offset);
        Ncp::new(node, out)
    }

    const PEER_PORT: u16 = 49999;

    fn forward(ncp: &mut Ncp, ba_port: u16, datagram: &[u8]) {
        crate::test_support::sim_ncp::forward(ncp, PEER_PORT, ba_port, datagram);
    }

    /// Pumps DTLS through the UDP forward stream until `until` holds or 20 s pass.
    fn pump(
        ncp: &mut Ncp,
        c: &mut Connection,
        ba: u16,
        until: impl Fn(&[Event]) -> bool,
    ) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut events = Vec::new();
        while Instant::now() < deadline {
            while let Some(d) = c.poll_transmit() {
                forward(ncp, ba, &d);
            }
            while let Some(e) = c.poll_event() {
                events.push(e);
            }
            if until(&events) || c.is_finished() {
                break;
            }
            match ncp.recv(Duration::from_millis(100)) {
                Some((_, cmd, 5412, v)) if cmd == 6 && v.len() >= 2 => {
                    let n = u16::from_le_bytes([v[0], v[1]]) as usize;
                    if v.len() >= 2 + n {
                        c.handle_datagram(Instant::now(), &v[2..2 + n]);
                    }
                }
                _ => c.handle_timeout(Instant::now()),
            }
        }
        while let Some(d) = c.poll_transmit() {
            forward(ncp, ba, &d);
        }
        events
    }

    #[test]
    fn commissioner_handshake_and_petition_with_openthread_border_agent() {
        let Ok(bin) = std::env::var("OT_NCP_FTD") else {
            return;
        };
        let offset = std::env::var("OT_PORT_OFFSET").unwrap_or_else(|_| "211".into());
        let mut ncp = spawn_ncp(&bin, &offset);
        let ba = border_agent(&mut ncp);

        // Wrong PSKc first: must end (the Border Agent's plaintext alert, then our next timer) as
        // PossibleBadPassword, not a hang.
        let mut bad = [0u8; 16];
        bad.copy_from_slice(&PSKC);
        bad[0] ^= 1;
        let mut c = Connection::client(Config::client(&bad), rng(31), Instant::now()).unwrap();
        let ev = pump(&mut ncp, &mut c, ba, |e| !e.is_empty());
        assert_eq!(ev, vec![Event::Failed(Error::PossibleBadPassword)]);

        let mut c = Connection::client(Config::client(&PSKC), rng(32), Instant::now()).unwrap();
        let ev = pump(&mut ncp, &mut c, ba, |e| !e.is_empty());
        assert_eq!(ev, vec![Event::Connected]);
        assert!(c.key_block().is_some());
        // COMM_PET: CON POST c/cp, token 0x1234, Commissioner ID TLV.
        let mut pet = vec![
            0x42, 0x02, 0x00, 0x01, 0x12, 0x34, 0xb1, b'c', 0x02, b'c', b'p', 0xff, 10, 9,
        ];
        pet.extend_from_slice(b"dtls-test");
        c.send(&pet).unwrap();
        let ev = pump(&mut ncp, &mut c, ba, |e| {
            e.iter()
                .any(|x| matches!(x, Event::ApplicationData(d) if d.get(1) == Some(&0x44)))
        });
        let answer = ev
            .iter()
            .find_map(|x| match x {
                Event::ApplicationData(d) if d.get(1) == Some(&0x44) => Some(d.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no 2.04 to COMM_PET: {ev:?}"));
        assert!(
            answer.windows(3).any(|w| w == [16, 1, 1]),
            "State=accept in {}",
            hex::encode(&answer)
        );
        c.close();
        let _ = pump(&mut ncp, &mut c, ba, |_| true);
    }
}
