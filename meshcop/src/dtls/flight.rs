//! Our flight: record protection with the write epoch, fragmentation to the MTU and the record
//! plaintext limit, (re)transmission, and the handshake transcript.

use std::time::Instant;

use super::handshake::*;
use super::record::*;
use sha2::{Digest, Sha256};

use super::{Connection, FlightItem, MAX_PLAINTEXT};

impl Connection {
    pub(super) fn write_record(
        &mut self,
        content_type: u8,
        epoch: u16,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        let idx = usize::from(epoch.min(1));
        let seq = self.write_seq[idx];
        self.write_seq[idx] = seq.saturating_add(1).min(MAX_SEQ);
        match (epoch, &self.write_cipher) {
            (0, _) => Record::encode(content_type, 0, seq, payload, out),
            (_, Some(c)) => c.seal(content_type, epoch, seq, payload, out),
            (_, None) => Record::encode(content_type, 0, seq, payload, out),
        }
    }

    pub(super) fn transmit_flight(&mut self) {
        let mtu = self.config.mtu.max(HEADER_LEN * 4 + AEAD_OVERHEAD + 16);
        let flight = self.flight.clone();
        let mut dgram: Vec<u8> = Vec::new();
        for item in &flight {
            let mut records: Vec<Vec<u8>> = Vec::new();
            match item {
                FlightItem::ChangeCipherSpec => {
                    let mut r = Vec::new();
                    self.write_record(CT_CHANGE_CIPHER_SPEC, 0, &[1], &mut r);
                    records.push(r);
                }
                FlightItem::Handshake {
                    msg_type,
                    seq,
                    body,
                    epoch,
                } => {
                    let overhead = HEADER_LEN + if *epoch > 0 { AEAD_OVERHEAD } else { 0 };
                    let max_frag = self
                        .config
                        .max_record_plaintext
                        .min(MAX_PLAINTEXT)
                        .min(mtu - overhead)
                        .saturating_sub(HS_HEADER_LEN)
                        .max(16);
                    let mut off = 0;
                    loop {
                        let len = max_frag.min(body.len() - off);
                        let mut payload = Vec::with_capacity(HS_HEADER_LEN + len);
                        encode_fragment(*msg_type, *seq, body, off, len, &mut payload);
                        let mut r = Vec::new();
                        self.write_record(CT_HANDSHAKE, *epoch, &payload, &mut r);
                        records.push(r);
                        off += len;
                        if off >= body.len() {
                            break;
                        }
                    }
                }
            }
            for r in records {
                if !dgram.is_empty() && dgram.len() + r.len() > mtu {
                    self.out.push_back(std::mem::take(&mut dgram));
                }
                dgram.extend_from_slice(&r);
            }
        }
        if !dgram.is_empty() {
            self.out.push_back(dgram);
        }
    }

    pub(super) fn send_flight(
        &mut self,
        now: Instant,
        items: Vec<FlightItem>,
        expect_answer: bool,
    ) {
        self.flight = items;
        self.timeout = self.config.initial_retransmit_timeout;
        self.transmit_flight();
        self.retransmit_at = expect_answer.then(|| now + self.timeout);
    }

    pub(super) fn push_transcript(&mut self, msg_type: u8, seq: u16, body: &[u8]) {
        self.transcript
            .extend_from_slice(&encode_message(msg_type, seq, body));
    }

    pub(super) fn transcript_hash(&self) -> [u8; 32] {
        Sha256::digest(&self.transcript).into()
    }
}
