//! HDLC + Spinel throughput: encode (Frame::encode + hdlc::encode) and decode
//! (hdlc::Decoder::push per byte + Frame::parse), in MB/s of Spinel frame bytes.
//! Plain std::time; run with `cargo bench -p ncp`. Numbers, not assertions.

use ncp::hdlc;
use ncp::spinel::{cmd, prop, Frame};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn frame(len: usize) -> Frame {
    // Pseudo-random bytes so that about 2% need escaping, like real traffic.
    let mut x: u32 = 0x1234_5678;
    let value = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    Frame::new(0, cmd::IS, prop::STREAM_NET, value)
}

fn run(name: &str, bytes_per_iter: usize, mut f: impl FnMut()) {
    // Warm up, then run for at least 1 s.
    for _ in 0..100 {
        f();
    }
    let start = Instant::now();
    let mut iters = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            f();
        }
        iters += 100;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (bytes_per_iter as f64 * iters as f64) / 1e6;
    println!(
        "{name:<40} {:>9.1} MB/s  {:>10.0} frames/s",
        mb / secs,
        iters as f64 / secs
    );
}

fn main() {
    for len in [16usize, 127, 1280] {
        let f = frame(len);
        let spinel_len = f.encode().len();
        let mut wire = Vec::new();
        hdlc::encode(&f.encode(), &mut wire);

        let mut out = Vec::with_capacity(wire.len() * 2);
        run(&format!("encode {len:>4}-byte value"), spinel_len, || {
            out.clear();
            let payload = black_box(&f).encode();
            hdlc::encode(&payload, &mut out);
            black_box(&out);
        });

        let mut dec = hdlc::Decoder::new(2048);
        run(&format!("decode {len:>4}-byte value"), spinel_len, || {
            for &b in black_box(&wire) {
                if let Some(Ok(payload)) = dec.push(b) {
                    black_box(Frame::parse(&payload).ok());
                }
            }
        });
        assert_eq!(
            dec.stats().bad_fcs + dec.stats().too_long + dec.stats().too_short,
            0
        );
    }
}
