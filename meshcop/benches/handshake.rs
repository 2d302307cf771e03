//! DTLS (TLS_ECJPAKE_WITH_AES_128_CCM_8) cost figures: one full in-memory handshake (client and
//! server CPU together) and record protection throughput. Plain `std::time`, no harness:
//! `cargo bench -p meshcop --bench handshake`.

use std::time::{Duration, Instant};

use meshcop::dtls::fuzzing::{parse_records, CipherState, CT_APPLICATION_DATA};
use meshcop::dtls::{Config, Connection, Event};
use meshcop::testing::XorShiftRng;

fn handshake(seed: u64) -> (Connection, Connection) {
    let now = Instant::now();
    let mut c =
        Connection::client(Config::client(b"J01NME"), Box::new(XorShiftRng(seed)), now).unwrap();
    let mut s = Connection::server(
        Config::server(b"J01NME"),
        b"k",
        b"peer",
        Box::new(XorShiftRng(seed ^ 0x55)),
    )
    .unwrap();
    for _ in 0..20 {
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(now, &d);
        }
        while let Some(d) = s.poll_transmit() {
            c.handle_datagram(now, &d);
        }
        if c.is_connected() && s.is_connected() {
            break;
        }
    }
    assert!(c.is_connected() && s.is_connected());
    while c.poll_event().is_some() {}
    while s.poll_event().is_some() {}
    (c, s)
}

fn main() {
    // warm-up
    handshake(1);
    let n = 20;
    let t = Instant::now();
    for i in 0..n {
        handshake(i + 2);
    }
    let per = t.elapsed() / n as u32;
    println!(
        "handshake (client+server CPU, in memory): {:.1} ms",
        per.as_secs_f64() * 1e3
    );

    // Record layer alone: seal/open of 768-byte records.
    let cipher = CipherState::new(&[3; 16], &[1, 2, 3, 4]);
    let payload = vec![0xa5u8; 768];
    let total = 16 * 1024 * 1024;
    let mut out = Vec::with_capacity(1024);
    let t = Instant::now();
    let mut seq = 0;
    let mut sealed = Vec::new();
    while seq * 768 < total {
        out.clear();
        cipher.seal(CT_APPLICATION_DATA, 1, seq as u64, &payload, &mut out);
        if seq == 0 {
            sealed = out.clone();
        }
        seq += 1;
    }
    let enc = mbps(total, t.elapsed());
    let t = Instant::now();
    let rec = parse_records(&sealed).remove(0);
    for _ in 0..total / 768 {
        assert!(cipher.open(&rec).is_some());
    }
    let dec = mbps(total, t.elapsed());
    println!("AES-128-CCM-8 records of 768 B: encrypt {enc:.1} MB/s, decrypt {dec:.1} MB/s");

    // Through the connection API (send -> datagram -> handle_datagram -> event).
    let (mut c, mut s) = handshake(99);
    let now = Instant::now();
    let chunk = vec![0x11u8; 4096];
    let t = Instant::now();
    let mut got = 0;
    while got < total {
        c.send(&chunk).unwrap();
        while let Some(d) = c.poll_transmit() {
            s.handle_datagram(now, &d);
        }
        while let Some(Event::ApplicationData(p)) = s.poll_event() {
            got += p.len();
        }
    }
    println!(
        "Connection send+receive (768 B records): {:.1} MB/s",
        mbps(got, t.elapsed())
    );
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}
