//! The co-processor's MAC scans (OpenThread `src/ncp/ncp_base.cpp`,
//! `HandlePropertySet<MAC_SCAN_STATE>`; `ncp_base_mtd.cpp`, `HandleEnergyScanResult`,
//! `HandleActiveScanResult`): `network.energy_scan` ([`Scanner::scan`]), the active (beacon)
//! scan that checks a proposed PAN ID before a migration ([`Scanner::beacons`]), and the MLE
//! discovery scan that also names the networks heard ([`Scanner::discover`]).
//!
//! A scan: set `MAC_SCAN_MASK` (the channels) and `MAC_SCAN_PERIOD` (ms per channel:
//! [`PERIOD_MS`] for energy, [`BEACON_PERIOD_MS`] for beacons and discovery), then
//! `MAC_SCAN_STATE` = energy, beacon or discover. The co-processor sends unsolicited results (`MAC_ENERGY_SCAN_RESULT`, one per channel;
//! `MAC_SCAN_BEACON`, one per beacon or discovery response heard), then `MAC_SCAN_STATE` idle. The router
//! ([`crate::frames`]) hands those frames to the [`Inlet`]; the running scan collects them.
//!
//! Guarantees: one scan at a time, of either kind (a second caller gets an error at once, the
//! running scan is not disturbed); every scan ends within [`deadline`] of its start; channels
//! must be 11..=26 and not empty (an empty mask would make OpenThread scan every channel); an
//! energy reply has a value for every requested channel, or the error names the channels the
//! co-processor left out; a beacon reply keeps at most [`MAX_BEACONS`] beacons. Results arriving
//! when no scan runs (a late one, another client's) are dropped, as are results of the other
//! kind; an undecodable one is logged and dropped.
//!
//! On Thread 1.2.1 and later a beacon carries no payload: only the MAC layer (PAN ID, extended
//! address, channel, RSSI, LQI) of a [`Beacon`] from [`Scanner::beacons`] is meaningful (see
//! [`ncp::props::scan::Beacon`]); [`Scanner::discover`] fills the rest. Checked on the OpenThread
//! simulation (Thread 1.4): a beacon scan of channel 20 heard another network's leader with its
//! PAN ID and extended address but an empty name and a zero extended PAN ID, the discovery scan
//! heard it with both; neither hears the co-processor itself, both hear the other routers and
//! router-eligible children of its own network (on its current PAN ID); 300 ms per channel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use control::reply::{ChannelEnergy, EnergyScan};
pub(crate) use ncp::props::scan::Beacon;
use ncp::props::scan::{decode_beacon, decode_energy_result, encode_scan_mask, EnergyResult};
use ncp::spinel::{prop, scan_state};
use ncp::Client;
use tokio::sync::mpsc;

use crate::control_socket::{code, MethodError};

/// Milliseconds the radio listens on each channel in an energy scan.
pub(crate) const PERIOD_MS: u16 = 100;
/// Milliseconds the radio waits for beacons on each channel after its beacon request
/// (OpenThread's default, `OPENTHREAD_CONFIG_MAC_SCAN_DURATION`).
pub(crate) const BEACON_PERIOD_MS: u16 = 300;
/// The most beacons one scan keeps; later ones are counted and dropped.
pub(crate) const MAX_BEACONS: usize = 256;
/// Slack on top of the scan's own duration before it is given up.
const SLACK: Duration = Duration::from_secs(5);
/// Frames waiting for the running scan.
const QUEUE: usize = 64;

/// What the router hands to a running scan.
#[derive(Debug)]
enum Input {
    Energy(EnergyResult),
    Beacon(Box<Beacon>),
    Idle,
    Reset,
}

type Sink = Arc<Mutex<Option<mpsc::Sender<Input>>>>;

/// The router's end: forwards scan frames to the running scan, if any.
#[derive(Clone, Default)]
pub(crate) struct Inlet(Sink);

impl Inlet {
    fn offer(&self, input: Input) {
        let sink = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = sink.as_ref() {
            if tx.try_send(input).is_err() {
                tracing::debug!("scan queue full; frame dropped");
            }
        }
    }

    /// A `MAC_ENERGY_SCAN_RESULT` value.
    pub(crate) fn result(&self, value: &[u8]) {
        match decode_energy_result(value) {
            Ok(r) => self.offer(Input::Energy(r)),
            Err(e) => {
                tracing::debug!(error = %e, len = value.len(), "undecodable energy scan result")
            }
        }
    }

    /// A `MAC_SCAN_BEACON` value.
    pub(crate) fn beacon(&self, value: &[u8]) {
        match decode_beacon(value) {
            Ok(b) => self.offer(Input::Beacon(Box::new(b))),
            Err(e) => tracing::debug!(error = %e, len = value.len(), "undecodable scan beacon"),
        }
    }

    /// A `MAC_SCAN_STATE` value announced by the co-processor.
    pub(crate) fn state(&self, value: &[u8]) {
        if value.first() == Some(&scan_state::IDLE) {
            self.offer(Input::Idle);
        }
    }

    /// The co-processor reset: a running scan is over.
    pub(crate) fn reset(&self) {
        self.offer(Input::Reset);
    }
}

/// The agent's end: runs scans, one at a time.
pub(crate) struct Scanner {
    client: Client,
    inlet: Inlet,
    running: tokio::sync::Mutex<()>,
}

/// One kind of scan.
struct Kind {
    /// "energy scan", "beacon scan": for logs and errors.
    name: &'static str,
    /// The `MAC_SCAN_STATE` that starts it.
    state: u8,
    period_ms: u16,
}

const ENERGY: Kind = Kind {
    name: "energy scan",
    state: scan_state::ENERGY,
    period_ms: PERIOD_MS,
};
const BEACONS: Kind = Kind {
    name: "beacon scan",
    state: scan_state::BEACON,
    period_ms: BEACON_PERIOD_MS,
};

const DISCOVERY: Kind = Kind {
    name: "discovery scan",
    state: scan_state::DISCOVER,
    period_ms: BEACON_PERIOD_MS,
};

/// How long a scan of `channels` channels at `period_ms` per channel may take.
pub(crate) fn deadline(channels: usize, period_ms: u16) -> Duration {
    Duration::from_millis(u64::from(period_ms) * channels as u64) + SLACK
}

fn unavailable(msg: impl Into<String>) -> MethodError {
    MethodError::new(code::NCP_UNAVAILABLE, msg)
}

impl Scanner {
    pub(crate) fn new(client: Client) -> Scanner {
        Scanner {
            client,
            inlet: Inlet::default(),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The end the router feeds.
    pub(crate) fn inlet(&self) -> Inlet {
        self.inlet.clone()
    }

    /// Energy-scans `channels` (validated by `control`: 11..=26, ascending, not empty).
    pub(crate) async fn scan(&self, channels: &[u8]) -> Result<EnergyScan, MethodError> {
        let mut best: BTreeMap<u8, i8> = BTreeMap::new();
        self.run(&ENERGY, channels, |input| {
            if let Input::Energy(r) = input {
                let e = best.entry(r.channel).or_insert(r.max_rssi);
                *e = (*e).max(r.max_rssi);
            }
        })
        .await?;
        answer(channels, &best)
    }

    /// Active (beacon) scan of `channels` (11..=26, not empty): every beacon heard, in arrival
    /// order, at most [`MAX_BEACONS`]. The co-processor does not hear its own beacons, so its own
    /// network appears only through its other router-eligible nodes (on its current PAN ID).
    // Not used by the agent: a Thread 1.2+ beacon names no network, so `network.migrate`'s PAN ID
    // check uses [`Scanner::discover`]; kept (and tested) for the SRP/mDNS work and diagnostics.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) async fn beacons(&self, channels: &[u8]) -> Result<Vec<Beacon>, MethodError> {
        self.collect_beacons(&BEACONS, channels).await
    }

    /// MLE discovery scan of `channels` (11..=26, not empty): like [`Scanner::beacons`], but the
    /// answers are MLE Discovery Responses, so network name, extended PAN ID, version and steering
    /// data are filled (a Thread 1.2.1+ beacon has none). The co-processor's discovery settings
    /// (`THREAD_DISCOVERY_SCAN_*`) are left at their defaults: no PAN ID filter, joiner flag off.
    pub(crate) async fn discover(&self, channels: &[u8]) -> Result<Vec<Beacon>, MethodError> {
        self.collect_beacons(&DISCOVERY, channels).await
    }

    async fn collect_beacons(
        &self,
        kind: &Kind,
        channels: &[u8],
    ) -> Result<Vec<Beacon>, MethodError> {
        let mut heard = Vec::new();
        let mut dropped = 0u64;
        self.run(kind, channels, |input| {
            if let Input::Beacon(b) = input {
                if heard.len() < MAX_BEACONS {
                    heard.push(*b);
                } else {
                    dropped += 1;
                }
            }
        })
        .await?;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                kept = MAX_BEACONS,
                "{}: too many answers",
                kind.name
            );
        }
        tracing::info!(heard = heard.len(), "{} done", kind.name);
        Ok(heard)
    }

    /// Runs one scan of `kind`: hands each result to `each` until the co-processor announces
    /// idle; an error if another scan runs, the co-processor refuses or resets, or [`deadline`]
    /// passes.
    async fn run(
        &self,
        kind: &Kind,
        channels: &[u8],
        mut each: impl FnMut(Input),
    ) -> Result<(), MethodError> {
        if channels.is_empty() || channels.iter().any(|c| !(11..=26).contains(c)) {
            return Err(MethodError::new(
                code::INVALID_PARAMS,
                format!(
                    "a {} needs channels in 11..=26, got {channels:?}",
                    kind.name
                ),
            ));
        }
        let Ok(_guard) = self.running.try_lock() else {
            return Err(unavailable(format!(
                "another scan is already running; try again when it has finished \
                 (this one: {})",
                kind.name
            )));
        };
        let (tx, mut rx) = mpsc::channel(QUEUE);
        *self.inlet.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let _detach = Detach(self.inlet.0.clone());
        tracing::info!(?channels, period_ms = kind.period_ms, "{}", kind.name);
        self.start(kind, channels)
            .await
            .map_err(|e| unavailable(format!("the co-processor refused the {}: {e}", kind.name)))?;
        let collect = async {
            while let Some(input) = rx.recv().await {
                match input {
                    Input::Idle => return Ok(()),
                    Input::Reset => {
                        return Err(unavailable(format!(
                            "the co-processor reset during the {}",
                            kind.name
                        )))
                    }
                    other => each(other),
                }
            }
            Ok(())
        };
        let limit = deadline(channels.len(), kind.period_ms);
        match tokio::time::timeout(limit, collect).await {
            Ok(r) => r,
            Err(_) => Err(unavailable(format!(
                "the {} did not finish within {} s",
                kind.name,
                limit.as_secs()
            ))),
        }
    }

    async fn start(&self, kind: &Kind, channels: &[u8]) -> Result<(), ncp::Error> {
        self.client
            .set(prop::MAC_SCAN_MASK, &encode_scan_mask(channels))
            .await?;
        self.client
            .set(prop::MAC_SCAN_PERIOD, &kind.period_ms.to_le_bytes())
            .await?;
        self.client.set(prop::MAC_SCAN_STATE, &[kind.state]).await?;
        Ok(())
    }
}

/// Clears the sink when the scan ends, however it ends.
struct Detach(Sink);

impl Drop for Detach {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The reply: one value per requested channel, or an error naming the missing ones.
fn answer(channels: &[u8], best: &BTreeMap<u8, i8>) -> Result<EnergyScan, MethodError> {
    let missing: Vec<String> = channels
        .iter()
        .filter(|c| !best.contains_key(c))
        .map(u8::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(unavailable(format!(
            "the co-processor reported no energy for channel(s) {}",
            missing.join(", ")
        )));
    }
    Ok(EnergyScan {
        channels: channels
            .iter()
            .map(|&channel| ChannelEnergy {
                channel,
                max_rssi: best[&channel],
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_has_every_channel_or_names_the_missing() {
        let best = BTreeMap::from([(11, -90), (15, -60), (12, -1)]);
        let r = answer(&[11, 15], &best).unwrap();
        assert_eq!(
            r.channels,
            [
                ChannelEnergy {
                    channel: 11,
                    max_rssi: -90
                },
                ChannelEnergy {
                    channel: 15,
                    max_rssi: -60
                }
            ]
        );
        let e = answer(&[11, 20, 26], &best).unwrap_err();
        assert!(e.message.contains("20, 26"), "{}", e.message);
    }

    #[tokio::test]
    async fn inlet_without_a_scan_drops_and_garbage_is_ignored() {
        let inlet = Inlet::default();
        inlet.result(&[15, 0xa4]);
        inlet.result(&[]);
        inlet.state(&[]);
        inlet.state(&[scan_state::IDLE]);
        let (tx, mut rx) = mpsc::channel(4);
        *inlet.0.lock().unwrap() = Some(tx);
        inlet.result(&[1]);
        inlet.state(&[scan_state::ENERGY]);
        inlet.result(&[15, 0xa4]);
        inlet.state(&[scan_state::IDLE]);
        assert!(matches!(
            rx.recv().await,
            Some(Input::Energy(EnergyResult {
                channel: 15,
                max_rssi: -92
            }))
        ));
        assert!(matches!(rx.recv().await, Some(Input::Idle)));
        assert!(rx.try_recv().is_err());
    }

    /// A scanner on the fake co-processor, with a scan of `channels` running in the background
    /// (its sink installed, so what the test feeds the inlet reaches it).
    async fn running(
        channels: &'static [u8],
    ) -> (
        Arc<Scanner>,
        crate::fake_ncp::FakeNcp,
        tokio::task::JoinHandle<Result<EnergyScan, MethodError>>,
    ) {
        let (fake, client, _events) = crate::fake_ncp::FakeNcp::start();
        let scanner = Arc::new(Scanner::new(client));
        let s = scanner.clone();
        let task = tokio::spawn(async move { s.scan(channels).await });
        while fake.count(ncp::spinel::cmd::SET, prop::MAC_SCAN_STATE) == 0 {
            tokio::task::yield_now().await;
        }
        (scanner, fake, task)
    }

    #[tokio::test]
    async fn scan_sets_the_co_processor_up_and_collects_every_channel() {
        let (scanner, fake, task) = running(&[11, 15]).await;
        assert_eq!(fake.get(prop::MAC_SCAN_MASK).unwrap(), [11, 15]);
        assert_eq!(
            fake.get(prop::MAC_SCAN_PERIOD).unwrap(),
            PERIOD_MS.to_le_bytes()
        );
        assert_eq!(
            fake.get(prop::MAC_SCAN_STATE).unwrap(),
            [scan_state::ENERGY]
        );
        // A second caller while this one runs: an error at once, the first is not disturbed.
        let e = scanner.scan(&[11]).await.unwrap_err();
        assert!(e.message.contains("already running"), "{}", e.message);
        let e = scanner.beacons(&[11]).await.unwrap_err();
        assert!(e.message.contains("already running"), "{}", e.message);
        let inlet = scanner.inlet();
        inlet.result(&[11, 0x9c]); // -100
        inlet.result(&[15, 0xa0]); // -96
        inlet.result(&[15, 0xc4]); // -60: the higher reading wins
        inlet.state(&[scan_state::IDLE]);
        let r = task.await.unwrap().unwrap();
        assert_eq!(
            r.channels,
            [
                ChannelEnergy {
                    channel: 11,
                    max_rssi: -100
                },
                ChannelEnergy {
                    channel: 15,
                    max_rssi: -60
                }
            ]
        );
        // The scan is over: the next one may start.
        assert!(scanner.inlet.0.lock().unwrap().is_none());
        assert!(scanner.running.try_lock().is_ok());
    }

    /// A `MAC_SCAN_BEACON` value from PAN ID `pan_id` on `channel` (the layout of
    /// `HandleActiveScanResult`, Thread 1.2.1+: no beacon payload).
    fn beacon_value(channel: u8, pan_id: u16) -> Vec<u8> {
        let mut w = ncp::codec::Writer::new();
        w.push_u8(channel).push_u8(0xc4);
        w.push_structure(|m| {
            m.push_eui64(&[2; 8])
                .push_u16(0xffff)
                .push_u16(pan_id)
                .push_u8(200);
        });
        w.push_structure(|n| {
            n.push_uint(3)
                .push_u8(0)
                .push_utf8("")
                .push_data(&[0; 8])
                .push_data(&[]);
        });
        w.into_vec()
    }

    /// A scanner on the fake co-processor with a beacon scan of `channels` running.
    async fn beacon_scan(
        channels: &'static [u8],
    ) -> (
        Arc<Scanner>,
        crate::fake_ncp::FakeNcp,
        tokio::task::JoinHandle<Result<Vec<Beacon>, MethodError>>,
    ) {
        let (fake, client, _events) = crate::fake_ncp::FakeNcp::start();
        let scanner = Arc::new(Scanner::new(client));
        let s = scanner.clone();
        let task = tokio::spawn(async move { s.beacons(channels).await });
        while fake.count(ncp::spinel::cmd::SET, prop::MAC_SCAN_STATE) == 0 {
            tokio::task::yield_now().await;
        }
        (scanner, fake, task)
    }

    #[tokio::test]
    async fn beacon_scan_sets_the_co_processor_up_and_collects_beacons() {
        let (scanner, fake, task) = beacon_scan(&[20, 25]).await;
        assert_eq!(fake.get(prop::MAC_SCAN_MASK).unwrap(), [20, 25]);
        assert_eq!(
            fake.get(prop::MAC_SCAN_PERIOD).unwrap(),
            BEACON_PERIOD_MS.to_le_bytes()
        );
        assert_eq!(
            fake.get(prop::MAC_SCAN_STATE).unwrap(),
            [scan_state::BEACON]
        );
        // One scan at a time, whatever the kind.
        let e = scanner.scan(&[11]).await.unwrap_err();
        assert!(e.message.contains("already running"), "{}", e.message);
        let inlet = scanner.inlet();
        inlet.beacon(&beacon_value(20, 0x1234));
        inlet.beacon(&[20, 0xc4, 0x0d]); // undecodable: dropped
        inlet.result(&[20, 0xa4]); // an energy result: not this scan's
        inlet.beacon(&beacon_value(25, 0xface));
        inlet.state(&[scan_state::BEACON]); // not the end
        inlet.state(&[scan_state::IDLE]);
        let heard = task.await.unwrap().unwrap();
        let got: Vec<(u8, u16, i8, u8)> = heard
            .iter()
            .map(|b| (b.channel, b.pan_id, b.rssi, b.lqi))
            .collect();
        assert_eq!(got, [(20, 0x1234, -60, 200), (25, 0xface, -60, 200)]);
        assert_eq!(heard[0].ext_address, [2; 8]);
        assert!(scanner.inlet.0.lock().unwrap().is_none());
        // The next scan, of the other kind, may start; nothing heard is an empty answer.
        let (scanner, _fake, task) = beacon_scan(&[11]).await;
        scanner.inlet().state(&[scan_state::IDLE]);
        assert!(task.await.unwrap().unwrap().is_empty());
        assert!(scanner.running.try_lock().is_ok());
    }

    #[tokio::test]
    async fn beacon_scan_refuses_bad_channels_keeps_at_most_max_and_ends_on_a_reset() {
        let (_fake, client, _events) = crate::fake_ncp::FakeNcp::start();
        let scanner = Scanner::new(client);
        for bad in [&[][..], &[10], &[11, 27]] {
            let e = scanner.beacons(bad).await.unwrap_err();
            assert_eq!(e.code, code::INVALID_PARAMS, "{bad:?}");
        }

        let (scanner, _fake, task) = beacon_scan(&[15]).await;
        let inlet = scanner.inlet();
        let mut fed = 0;
        while fed < MAX_BEACONS + 10 {
            // Paced so the bounded queue between router and scan never overflows.
            inlet.beacon(&beacon_value(15, fed as u16));
            fed += 1;
            tokio::task::yield_now().await;
        }
        inlet.state(&[scan_state::IDLE]);
        let heard = task.await.unwrap().unwrap();
        assert_eq!(heard.len(), MAX_BEACONS);
        assert_eq!(heard[MAX_BEACONS - 1].pan_id, (MAX_BEACONS - 1) as u16);

        let (scanner, _fake, task) = beacon_scan(&[15]).await;
        scanner.inlet().reset();
        let e = task.await.unwrap().unwrap_err();
        assert!(
            e.message.contains("reset during the beacon scan"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn discovery_scan_starts_with_the_discover_state() {
        let (fake, client, _events) = crate::fake_ncp::FakeNcp::start();
        let scanner = Arc::new(Scanner::new(client));
        let s = scanner.clone();
        let task = tokio::spawn(async move { s.discover(&[20]).await });
        while fake.count(ncp::spinel::cmd::SET, prop::MAC_SCAN_STATE) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            fake.get(prop::MAC_SCAN_STATE).unwrap(),
            [scan_state::DISCOVER]
        );
        let e = scanner.beacons(&[20]).await.unwrap_err();
        assert!(e.message.contains("already running"), "{}", e.message);
        scanner.inlet().beacon(&beacon_value(20, 0x1234));
        scanner.inlet().state(&[scan_state::IDLE]);
        assert_eq!(task.await.unwrap().unwrap()[0].pan_id, 0x1234);
    }

    #[test]
    fn deadline_is_the_scan_plus_slack() {
        assert_eq!(
            deadline(3, BEACON_PERIOD_MS),
            Duration::from_millis(900) + SLACK
        );
        assert_eq!(deadline(16, PERIOD_MS), Duration::from_millis(1600) + SLACK);
    }

    #[tokio::test]
    async fn scan_names_missing_channels_and_ends_on_a_reset() {
        let (scanner, _fake, task) = running(&[11, 15, 20]).await;
        scanner.inlet().result(&[11, 0x9c]);
        scanner.inlet().state(&[scan_state::IDLE]);
        let e = task.await.unwrap().unwrap_err();
        assert!(e.message.contains("15, 20"), "{}", e.message);

        let (scanner, _fake, task) = running(&[11]).await;
        scanner.inlet().reset();
        let e = task.await.unwrap().unwrap_err();
        assert!(e.message.contains("reset"), "{}", e.message);
    }
}
