//! `network.energy_scan`: the co-processor's MAC energy scan (OpenThread `src/ncp/ncp_base.cpp`,
//! `HandlePropertySet<MAC_SCAN_STATE>`; `ncp_base_mtd.cpp`, `HandleEnergyScanResult`).
//!
//! The scan: set `MAC_SCAN_MASK` (the channels) and `MAC_SCAN_PERIOD` ([`PERIOD_MS`] per
//! channel), then `MAC_SCAN_STATE` = energy. The co-processor sends one unsolicited
//! `MAC_ENERGY_SCAN_RESULT` per channel, then `MAC_SCAN_STATE` idle. The router
//! ([`crate::frames`]) hands those frames to the [`Inlet`]; [`Scanner::scan`] collects them.
//!
//! Guarantees: one scan at a time (a second caller gets an error at once, the running scan is
//! not disturbed); every scan ends within [`deadline`] of its start; the reply has a value for
//! every requested channel, or the error names the channels the co-processor left out. Results
//! arriving when no scan runs (a late one, another client's) are dropped; an undecodable one is
//! logged and dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use control::reply::{ChannelEnergy, EnergyScan};
use ncp::props::scan::{decode_energy_result, encode_scan_mask, EnergyResult};
use ncp::spinel::{prop, scan_state};
use ncp::Client;
use tokio::sync::mpsc;

use crate::control_socket::{code, MethodError};

/// Milliseconds the radio listens on each channel.
pub(crate) const PERIOD_MS: u16 = 100;
/// Slack on top of the scan's own duration before it is given up.
const SLACK: Duration = Duration::from_secs(5);
/// Frames waiting for the running scan.
const QUEUE: usize = 64;

/// What the router hands to a running scan.
#[derive(Debug)]
enum Input {
    Result(EnergyResult),
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
                tracing::debug!("energy scan queue full; frame dropped");
            }
        }
    }

    /// A `MAC_ENERGY_SCAN_RESULT` value.
    pub(crate) fn result(&self, value: &[u8]) {
        match decode_energy_result(value) {
            Ok(r) => self.offer(Input::Result(r)),
            Err(e) => {
                tracing::debug!(error = %e, len = value.len(), "undecodable energy scan result")
            }
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

/// How long a scan of `channels` channels may take.
pub(crate) fn deadline(channels: usize) -> Duration {
    Duration::from_millis(u64::from(PERIOD_MS) * channels as u64) + SLACK
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

    /// Scans `channels` (validated by `control`: 11..=26, ascending, not empty).
    pub(crate) async fn scan(&self, channels: &[u8]) -> Result<EnergyScan, MethodError> {
        let Ok(_guard) = self.running.try_lock() else {
            return Err(unavailable(
                "an energy scan is already running; try again when it has finished",
            ));
        };
        let (tx, mut rx) = mpsc::channel(QUEUE);
        *self.inlet.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let _detach = Detach(self.inlet.0.clone());
        tracing::info!(?channels, period_ms = PERIOD_MS, "energy scan");
        let started = self.start(channels).await;
        started
            .map_err(|e| unavailable(format!("the co-processor refused the energy scan: {e}")))?;
        let mut best: BTreeMap<u8, i8> = BTreeMap::new();
        let collect = async {
            while let Some(input) = rx.recv().await {
                match input {
                    Input::Result(r) => {
                        let e = best.entry(r.channel).or_insert(r.max_rssi);
                        *e = (*e).max(r.max_rssi);
                    }
                    Input::Idle => return Ok(()),
                    Input::Reset => {
                        return Err(unavailable("the co-processor reset during the energy scan"))
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(deadline(channels.len()), collect).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(unavailable(format!(
                    "the energy scan did not finish within {} s",
                    deadline(channels.len()).as_secs()
                )))
            }
        }
        answer(channels, &best)
    }

    async fn start(&self, channels: &[u8]) -> Result<(), ncp::Error> {
        self.client
            .set(prop::MAC_SCAN_MASK, &encode_scan_mask(channels))
            .await?;
        self.client
            .set(prop::MAC_SCAN_PERIOD, &PERIOD_MS.to_le_bytes())
            .await?;
        self.client
            .set(prop::MAC_SCAN_STATE, &[scan_state::ENERGY])
            .await?;
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
            Some(Input::Result(EnergyResult {
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
