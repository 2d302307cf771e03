//! DTLS 1.2 handshake messages (RFC 6347 §4.2, RFC 5246 §7.4) as needed by
//! `TLS_ECJPAKE_WITH_AES_128_CCM_8`: the 12-byte fragment header, reassembly of fragmented
//! messages, splitting our own messages to a fragment size, and ClientHello, ServerHello and
//! HelloVerifyRequest bodies. Extensions are kept as (type, bytes); unknown ones are preserved.
//!
//! Guarantees: every parser is total (returns `Err` on any malformed input, never panics); the
//! reassembler bounds memory by [`MAX_MESSAGE_LEN`].

/// ClientHello.
pub const HT_CLIENT_HELLO: u8 = 1;
/// ServerHello.
pub const HT_SERVER_HELLO: u8 = 2;
/// HelloVerifyRequest.
pub const HT_HELLO_VERIFY_REQUEST: u8 = 3;
/// ServerKeyExchange.
pub const HT_SERVER_KEY_EXCHANGE: u8 = 12;
/// ServerHelloDone.
pub const HT_SERVER_HELLO_DONE: u8 = 14;
/// ClientKeyExchange.
pub const HT_CLIENT_KEY_EXCHANGE: u8 = 16;
/// Finished.
pub const HT_FINISHED: u8 = 20;

/// Extension ecjpake_kkpp (round one of EC-JPAKE).
pub const EXT_ECJPAKE_KKPP: u16 = 256;
/// Extension supported_groups (elliptic_curves).
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
/// Extension ec_point_formats.
pub const EXT_EC_POINT_FORMATS: u16 = 11;
/// Extension renegotiation_info.
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;
/// The only cipher suite.
pub const TLS_ECJPAKE_WITH_AES_128_CCM_8: u16 = 0xc0ff;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;
/// Handshake header length.
pub const HS_HEADER_LEN: usize = 12;
/// Largest handshake message we accept (our messages are well under 1 KiB).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// A handshake message parse error (the `&str` names the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

fn u24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}
fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// One handshake fragment from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Message type.
    pub msg_type: u8,
    /// Length of the whole message.
    pub length: u32,
    /// Message sequence number.
    pub message_seq: u16,
    /// Offset of this fragment.
    pub offset: u32,
    /// Fragment bytes.
    pub body: &'a [u8],
}

/// Splits a handshake record's plaintext into fragments.
pub fn parse_fragments(mut data: &[u8]) -> Result<Vec<Fragment<'_>>, DecodeError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < HS_HEADER_LEN {
            return Err(DecodeError("handshake header"));
        }
        let length = u24(&data[1..4]);
        let offset = u24(&data[6..9]);
        let flen = u24(&data[9..12]) as usize;
        if data.len() < HS_HEADER_LEN + flen {
            return Err(DecodeError("handshake fragment length"));
        }
        if offset as usize + flen > length as usize {
            return Err(DecodeError("handshake fragment beyond message"));
        }
        out.push(Fragment {
            msg_type: data[0],
            length,
            message_seq: u16::from_be_bytes([data[4], data[5]]),
            offset,
            body: &data[HS_HEADER_LEN..HS_HEADER_LEN + flen],
        });
        data = &data[HS_HEADER_LEN + flen..];
    }
    Ok(out)
}

/// The unfragmented form of a message (as it enters the Finished transcript).
pub fn encode_message(msg_type: u8, message_seq: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HS_HEADER_LEN + body.len());
    encode_fragment(msg_type, message_seq, body, 0, body.len(), &mut out);
    out
}

/// Appends the fragment `body[offset..offset+len]` with its header.
pub fn encode_fragment(
    msg_type: u8,
    message_seq: u16,
    body: &[u8],
    offset: usize,
    len: usize,
    out: &mut Vec<u8>,
) {
    out.push(msg_type);
    put_u24(out, body.len() as u32);
    out.extend_from_slice(&message_seq.to_be_bytes());
    put_u24(out, offset as u32);
    put_u24(out, len as u32);
    out.extend_from_slice(&body[offset..offset + len]);
}

/// Collects the fragments of one message.
#[derive(Debug, Clone)]
pub struct Reassembly {
    /// Message type.
    pub msg_type: u8,
    /// Epoch the (first) fragment arrived in.
    pub epoch: u16,
    body: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
}

impl Reassembly {
    /// Starts a message from its first-seen fragment.
    pub fn new(f: &Fragment<'_>, epoch: u16) -> Result<Self, DecodeError> {
        let len = f.length as usize;
        if len > MAX_MESSAGE_LEN {
            return Err(DecodeError("handshake message too long"));
        }
        let mut r = Reassembly {
            msg_type: f.msg_type,
            epoch,
            body: vec![0; len],
            have: vec![false; len],
            missing: len,
        };
        r.add(f)?;
        Ok(r)
    }

    /// Adds a fragment (duplicates and overlaps are fine; conflicting headers are not).
    pub fn add(&mut self, f: &Fragment<'_>) -> Result<(), DecodeError> {
        if f.msg_type != self.msg_type || f.length as usize != self.body.len() {
            return Err(DecodeError("fragment does not match its message"));
        }
        let start = f.offset as usize;
        for (i, &b) in f.body.iter().enumerate() {
            let j = start + i;
            if !self.have[j] {
                self.have[j] = true;
                self.body[j] = b;
                self.missing -= 1;
            }
        }
        Ok(())
    }

    /// The length of the whole message (what it holds in memory, twice).
    pub fn message_len(&self) -> usize {
        self.body.len()
    }

    /// The whole body once every byte has arrived.
    pub fn complete(&self) -> Option<&[u8]> {
        (self.missing == 0).then_some(&self.body[..])
    }
}

/// Reads fields with bounds checks.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError(what));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a 1-byte length.
    pub fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u8(what)? as usize;
        self.take(n, what)
    }
    /// A vector with a 2-byte length.
    pub fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
    /// Fails on trailing bytes.
    /// The version, random and session id that start both hellos.
    fn hello_prefix(
        &mut self,
        version: &'static str,
    ) -> Result<(u16, [u8; 32], &'a [u8]), DecodeError> {
        let version = self.u16(version)?;
        let mut random = [0u8; 32];
        random.copy_from_slice(self.take(32, "random")?);
        let session_id = self.vec8("session_id")?;
        if session_id.len() > 32 {
            return Err(DecodeError("session_id too long"));
        }
        Ok((version, random, session_id))
    }

    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError(what))
        }
    }
}

/// Extensions as (type, data), in wire order.
pub type Extensions = Vec<(u16, Vec<u8>)>;

fn parse_extensions(r: &mut Reader<'_>) -> Result<Extensions, DecodeError> {
    let mut out = Vec::new();
    if r.0.is_empty() {
        return Ok(out); // extensions are optional
    }
    let mut block = Reader(r.vec16("extensions length")?);
    while !block.0.is_empty() {
        let t = block.u16("extension type")?;
        let d = block.vec16("extension data")?;
        if out.iter().any(|(x, _)| *x == t) {
            return Err(DecodeError("duplicate extension"));
        }
        out.push((t, d.to_vec()));
    }
    Ok(out)
}

fn encode_extensions(ext: &Extensions, out: &mut Vec<u8>) {
    if ext.is_empty() {
        return;
    }
    let total: usize = ext.iter().map(|(_, d)| 4 + d.len()).sum();
    out.extend_from_slice(&(total as u16).to_be_bytes());
    for (t, d) in ext {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&(d.len() as u16).to_be_bytes());
        out.extend_from_slice(d);
    }
}

/// Finds an extension.
pub fn find_ext(ext: &Extensions, t: u16) -> Option<&[u8]> {
    ext.iter().find(|(x, _)| *x == t).map(|(_, d)| &d[..])
}

/// ClientHello body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// client_version.
    pub version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// Session id (we send none).
    pub session_id: Vec<u8>,
    /// DTLS cookie.
    pub cookie: Vec<u8>,
    /// Offered cipher suites.
    pub cipher_suites: Vec<u16>,
    /// Offered compression methods.
    pub compression: Vec<u8>,
    /// Extensions.
    pub extensions: Extensions,
}

impl ClientHello {
    /// Parses a ClientHello body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(body);
        let (version, random, session_id) = r.hello_prefix("client_version")?;
        let cookie = r.vec8("cookie")?.to_vec();
        let suites = r.vec16("cipher_suites")?;
        if suites.is_empty() || suites.len() % 2 != 0 {
            return Err(DecodeError("cipher_suites"));
        }
        let cipher_suites = suites
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let compression = r.vec8("compression_methods")?.to_vec();
        if compression.is_empty() {
            return Err(DecodeError("compression_methods"));
        }
        let extensions = parse_extensions(&mut r)?;
        r.finish("trailing bytes after ClientHello")?;
        Ok(ClientHello {
            version,
            random,
            session_id: session_id.to_vec(),
            cookie,
            cipher_suites,
            compression,
            extensions,
        })
    }

    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        encode_hello_prefix(self.version, &self.random, &self.session_id, &mut out);
        out.push(self.cookie.len() as u8);
        out.extend_from_slice(&self.cookie);
        out.extend_from_slice(&((self.cipher_suites.len() * 2) as u16).to_be_bytes());
        for s in &self.cipher_suites {
            out.extend_from_slice(&s.to_be_bytes());
        }
        out.push(self.compression.len() as u8);
        out.extend_from_slice(&self.compression);
        encode_extensions(&self.extensions, &mut out);
        out
    }
}

/// Writes the version, random and session id that start both hellos.
fn encode_hello_prefix(version: u16, random: &[u8; 32], session_id: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(random);
    out.push(session_id.len() as u8);
    out.extend_from_slice(session_id);
}

/// ServerHello body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// server_version.
    pub version: u16,
    /// Server random.
    pub random: [u8; 32],
    /// Session id.
    pub session_id: Vec<u8>,
    /// Chosen suite.
    pub cipher_suite: u16,
    /// Chosen compression.
    pub compression: u8,
    /// Extensions.
    pub extensions: Extensions,
}

impl ServerHello {
    /// Parses a ServerHello body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(body);
        let (version, random, session_id) = r.hello_prefix("server_version")?;
        let session_id = session_id.to_vec();
        let cipher_suite = r.u16("cipher_suite")?;
        let compression = r.u8("compression_method")?;
        let extensions = parse_extensions(&mut r)?;
        r.finish("trailing bytes after ServerHello")?;
        Ok(ServerHello {
            version,
            random,
            session_id,
            cipher_suite,
            compression,
            extensions,
        })
    }

    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        encode_hello_prefix(self.version, &self.random, &self.session_id, &mut out);
        out.extend_from_slice(&self.cipher_suite.to_be_bytes());
        out.push(self.compression);
        encode_extensions(&self.extensions, &mut out);
        out
    }
}

/// HelloVerifyRequest body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVerifyRequest {
    /// server_version (FE FF per RFC 6347; FE FD accepted).
    pub version: u16,
    /// The cookie to echo.
    pub cookie: Vec<u8>,
}

impl HelloVerifyRequest {
    /// Parses a HelloVerifyRequest body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(body);
        let version = r.u16("server_version")?;
        let cookie = r.vec8("cookie")?.to_vec();
        r.finish("trailing bytes after HelloVerifyRequest")?;
        Ok(HelloVerifyRequest { version, cookie })
    }

    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.cookie.len());
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.cookie.len() as u8);
        out.extend_from_slice(&self.cookie);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_roundtrip() {
        let ch = ClientHello {
            version: 0xfefd,
            random: [9; 32],
            session_id: vec![],
            cookie: vec![1, 2, 3],
            cipher_suites: vec![0xc0ff, 0x00ff],
            compression: vec![0],
            extensions: vec![(10, vec![0, 2, 0, 0x17]), (256, vec![5; 10])],
        };
        let b = ch.encode();
        assert_eq!(ClientHello::parse(&b).unwrap(), ch);
        for n in 0..b.len() {
            assert!(
                ClientHello::parse(&b[..n]).is_err() || n == 47,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn fragments_reassemble_out_of_order() {
        let body: Vec<u8> = (0..200u8).collect();
        let mut frags = Vec::new();
        for off in (0..200).step_by(60) {
            let mut f = Vec::new();
            encode_fragment(HT_SERVER_HELLO, 3, &body, off, 60.min(200 - off), &mut f);
            frags.push(f);
        }
        frags.reverse();
        let mut r: Option<Reassembly> = None;
        for f in &frags {
            let p = parse_fragments(f).unwrap();
            match &mut r {
                None => r = Some(Reassembly::new(&p[0], 0).unwrap()),
                Some(r) => r.add(&p[0]).unwrap(),
            }
        }
        assert_eq!(r.unwrap().complete().unwrap(), &body[..]);
        assert!(parse_fragments(&frags[0][..15]).is_err());
    }
}
