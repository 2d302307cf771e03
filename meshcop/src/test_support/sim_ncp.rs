//! A minimal simulated-NCP driver for the live tests against OpenThread's `ot-ncp-ftd`
//! (`dtls::tests::ot_border_agent_interop` and `commissioner::tests::live`): HDLC framing (RFC 1662 FCS),
//! Spinel packed integers and frames, a simulation node that exits when its stdin closes, a leader
//! brought up with a fixed dataset, and the Spinel UDP forward stream (thread-facts §1).
//!
//! It deliberately does not depend on the `ncp` crate. Test-only: it panics when the simulation
//! misbehaves. Validated by those live tests against OpenThread's simulation NCP.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The PSKc in [`dataset`].
pub const PSKC: [u8; 16] = *b"\x3a\xa5\x5f\x91\xca\x47\xd1\xe4\xe7\x1a\x08\xcb\x35\xe9\x15\x91";

/// Spinel commands.
pub const SET: u32 = 3;
pub const GET: u32 = 2;

/// The off-mesh peer address the forwarded datagrams claim to come from.
pub const PEER_ADDR: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];

/// HDLC frame check sequence (CRC-16/X.25).
pub fn fcs(data: &[u8]) -> u16 {
    let mut crc = 0xffffu16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One HDLC-lite frame around `payload`.
pub fn hdlc(payload: &[u8]) -> Vec<u8> {
    let mut raw = payload.to_vec();
    raw.extend_from_slice(&fcs(payload).to_le_bytes());
    let mut out = vec![0x7e];
    for b in raw {
        if matches!(b, 0x7e | 0x7d | 0x11 | 0x13 | 0xf8) {
            out.extend_from_slice(&[0x7d, b ^ 0x20]);
        } else {
            out.push(b);
        }
    }
    out.push(0x7e);
    out
}

/// Spinel packed unsigned integer.
pub fn packed(mut v: u32, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Spinel packed unsigned integer: (value, bytes used).
pub fn unpack(b: &[u8]) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for (i, &x) in b.iter().enumerate().take(3) {
        v |= u32::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A fresh working directory `<tmp>/<name>-<pid>` for a simulation node.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A simulation node; on drop its stdin is closed (it exits then), it is killed and its
/// working directory removed.
pub struct Node {
    child: Child,
    pub stdin: Option<ChildStdin>,
    dir: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stdin.take(); // the node exits when stdin closes
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Node {
    /// Runs `cmd` in `dir` (PORT_OFFSET `port_offset`) with piped stdin/stdout.
    pub fn spawn(
        mut cmd: Command,
        dir: std::path::PathBuf,
        port_offset: &str,
    ) -> (Node, ChildStdout) {
        let mut child = cmd
            .current_dir(&dir)
            .env("PORT_OFFSET", port_offset)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn simulation node");
        let out = child.stdout.take().unwrap();
        (
            Node {
                stdin: child.stdin.take(),
                child,
                dir,
            },
            out,
        )
    }
}

/// A Spinel/HDLC peer: frames with a good FCS arrive on a channel.
pub struct Ncp {
    pub node: Node,
    frames: mpsc::Receiver<Vec<u8>>,
    tid: u8,
}

impl Ncp {
    /// Reads HDLC frames from `out` on a thread of their own.
    pub fn new(node: Node, mut out: ChildStdout) -> Ncp {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut frame = Vec::new();
            let mut esc = false;
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    return;
                }
                for &b in &buf[..n] {
                    match b {
                        0x7e => {
                            if frame.len() > 2 {
                                let (p, f) = frame.split_at(frame.len() - 2);
                                if fcs(p).to_le_bytes() == [f[0], f[1]]
                                    && tx.send(p.to_vec()).is_err()
                                {
                                    return;
                                }
                            }
                            frame.clear();
                        }
                        0x7d => esc = true,
                        _ if esc => {
                            frame.push(b ^ 0x20);
                            esc = false;
                        }
                        _ => frame.push(b),
                    }
                }
            }
        });
        Ncp {
            node,
            frames: rx,
            tid: 0,
        }
    }

    /// Sends one command; returns its TID.
    pub fn send(&mut self, cmd: u32, prop: u32, value: &[u8]) -> u8 {
        self.tid = self.tid % 15 + 1;
        let mut f = vec![0x80 | self.tid];
        packed(cmd, &mut f);
        packed(prop, &mut f);
        f.extend_from_slice(value);
        let stdin = self.node.stdin.as_mut().unwrap();
        stdin.write_all(&hdlc(&f)).unwrap();
        stdin.flush().unwrap();
        self.tid
    }

    /// (tid, command, prop, value)
    pub fn recv(&mut self, timeout: Duration) -> Option<(u8, u32, u32, Vec<u8>)> {
        let f = self.frames.recv_timeout(timeout).ok()?;
        let tid = f.first()? & 0x0f;
        let (cmd, a) = unpack(&f[1..])?;
        let (prop, b) = unpack(&f[1 + a..])?;
        Some((tid, cmd, prop, f[1 + a + b..].to_vec()))
    }

    /// Request and wait for the IS answer with the same TID.
    pub fn call(&mut self, cmd: u32, prop: u32, value: &[u8]) -> (u32, Vec<u8>) {
        let tid = self.send(cmd, prop, value);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some((t, c, p, v)) = self.recv(Duration::from_millis(500)) {
                if t == tid && c == 6 {
                    return (p, v);
                }
            }
        }
        panic!("no answer to prop {prop}");
    }
}

/// The active dataset the leader starts with (PSKc [`PSKC`]).
pub fn dataset() -> Vec<u8> {
    let mut d = hex::decode(
        "0e080000000000010000000300000f35060004001fffe0010231a302081122334455667788030a4f70656e546872656164",
    )
    .unwrap();
    d.extend_from_slice(&[0x04, 0x10]);
    d.extend_from_slice(&PSKC);
    d.extend(
        hex::decode("0510cafebabecafebabecafebabecafebabe0708fd00abcd000000000c0402a0f7f8")
            .unwrap(),
    );
    d
}

/// Brings a leader up and returns its Border Agent port.
pub fn border_agent(ncp: &mut Ncp) -> u16 {
    let _ = ncp.recv(Duration::from_secs(2)); // boot LAST_STATUS
    assert_eq!(ncp.call(SET, 5436, &dataset()).0, 5436, "dataset accepted");
    ncp.call(SET, 0x41, &[1]);
    ncp.call(SET, 0x42, &[1]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no leader");
        if ncp.call(GET, 0x43, &[]).1 == [3] {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    loop {
        assert!(Instant::now() < deadline, "no border agent");
        let (p, v) = ncp.call(GET, 2385, &[]);
        if p == 2385 && v.len() >= 3 && v[0] == 1 {
            return u16::from_le_bytes([v[1], v[2]]);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Sends `datagram` from [`PEER_ADDR`]:`peer_port` to the Border Agent port `ba_port` through the
/// Spinel UDP forward stream.
pub fn forward(ncp: &mut Ncp, peer_port: u16, ba_port: u16, datagram: &[u8]) {
    let mut v = (datagram.len() as u16).to_le_bytes().to_vec();
    v.extend_from_slice(datagram);
    v.extend_from_slice(&peer_port.to_le_bytes());
    v.extend_from_slice(&PEER_ADDR);
    v.extend_from_slice(&ba_port.to_le_bytes());
    ncp.send(SET, 5412, &v);
}
