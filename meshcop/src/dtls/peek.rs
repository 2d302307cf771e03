//! Peeking into a raw DTLS 1.2 datagram without a connection (RFC 6347 §4.1 record header,
//! §4.2.2 handshake header, §4.2.1 cookie exchange), so that a server demultiplexing many peers
//! (the commissioner's joiner sessions, OpenThread `SecureTransport::HandleReceive`) can tell a
//! new handshake from the traffic of a session in progress.
//!
//! Guarantees: no panic and no allocation on any input; only the first record of the datagram is
//! looked at; `None` / `false` for anything that is not the message asked about.

/// Record header (13 bytes) of a DTLS 1.2 record.
const RECORD_HEADER: usize = 13;
/// Handshake message header (12 bytes) of DTLS.
const HANDSHAKE_HEADER: usize = 12;
const CONTENT_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;

/// What a ClientHello shows before any state is kept for its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHelloPeek {
    /// Length of the cookie it carries (0 before the HelloVerifyRequest exchange).
    pub cookie_len: usize,
    /// Its client random: a new one means the peer started a new handshake.
    pub random: [u8; 32],
}

/// If `datagram` starts with a ClientHello record (epoch 0, the first fragment of the message):
/// its cookie length and client random.
pub fn peek_client_hello(datagram: &[u8]) -> Option<ClientHelloPeek> {
    let d = datagram;
    // Record header + handshake header + version (2) + random (32) + session id length.
    if d.len() < RECORD_HEADER + HANDSHAKE_HEADER + 2 + 32 + 1
        || d[0] != CONTENT_HANDSHAKE
        || d[3] != 0
        || d[4] != 0
        || d[RECORD_HEADER] != CLIENT_HELLO
    {
        return None;
    }
    // Fragment length not zero, fragment offset zero.
    if d[22..25] == [0, 0, 0] || d[19..22] != [0, 0, 0] {
        return None;
    }
    let mut random = [0u8; 32];
    random.copy_from_slice(&d[27..59]);
    let sid_len = *d.get(59)? as usize;
    d.get(60 + sid_len).map(|&n| ClientHelloPeek {
        cookie_len: n as usize,
        random,
    })
}

/// Whether `datagram` starts with a handshake record carrying a ServerHello: what a server sends
/// only once the client's cookie was verified.
pub fn starts_with_server_hello(datagram: &[u8]) -> bool {
    datagram.len() > RECORD_HEADER
        && datagram[0] == CONTENT_HANDSHAKE
        && datagram[RECORD_HEADER] == SERVER_HELLO
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_hello(cookie: &[u8]) -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0); // session id
        body.push(cookie.len() as u8);
        body.extend_from_slice(cookie);
        body.extend_from_slice(&[0, 2, 0xc0, 0xff, 1, 0]);
        let n = body.len() as u32;
        let mut d = vec![CONTENT_HANDSHAKE, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        d.extend_from_slice(&((HANDSHAKE_HEADER as u16 + n as u16).to_be_bytes()));
        d.push(CLIENT_HELLO);
        d.extend_from_slice(&n.to_be_bytes()[1..]);
        d.extend_from_slice(&[0, 0, 0, 0, 0]);
        d.extend_from_slice(&n.to_be_bytes()[1..]);
        d.extend_from_slice(&body);
        d
    }

    #[test]
    fn reads_cookie_length_and_random() {
        let p = peek_client_hello(&client_hello(&[])).unwrap();
        assert_eq!(p.cookie_len, 0);
        assert_eq!(p.random, [7u8; 32]);
        let p = peek_client_hello(&client_hello(&[1, 2, 3])).unwrap();
        assert_eq!(p.cookie_len, 3);
    }

    #[test]
    fn truncated_input_is_none() {
        let d = client_hello(&[1, 2, 3]);
        for n in 0..=60 {
            assert_eq!(peek_client_hello(&d[..n]), None, "length {n}");
        }
        assert!(peek_client_hello(&d[..61]).is_some());
    }

    #[test]
    fn other_records_are_none() {
        let mut d = client_hello(&[]);
        d[0] = 23; // application data
        assert_eq!(peek_client_hello(&d), None);
        let mut d = client_hello(&[]);
        d[4] = 1; // epoch 1
        assert_eq!(peek_client_hello(&d), None);
        let mut d = client_hello(&[]);
        d[21] = 5; // not the first fragment
        assert_eq!(peek_client_hello(&d), None);
        let mut d = client_hello(&[]);
        d[RECORD_HEADER] = SERVER_HELLO;
        assert_eq!(peek_client_hello(&d), None);
        assert!(starts_with_server_hello(&d));
        assert!(!starts_with_server_hello(&client_hello(&[])));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..300 {
            let mut d = vec![0u8; len];
            for b in d.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            if len > 14 {
                d[0] = CONTENT_HANDSHAKE;
                d[RECORD_HEADER] = CLIENT_HELLO;
            }
            let _ = peek_client_hello(&d);
            let _ = starts_with_server_hello(&d);
        }
        assert_eq!(peek_client_hello(&[22, 0xfe]), None);
        assert!(!starts_with_server_hello(&[22]));
    }
}
