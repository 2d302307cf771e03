//! Presence by identity: who answered a network diagnostics query, matched to the records by
//! EUI-64 (or by Joiner ID, which is a hash of the EUI-64, for devices admitted by a discerner or
//! `any` entry: their EUI-64 is learnt that way).
//!
//! Rules ([`Tracker::apply`]): a device found by a query is `attached` (ext address, RLOC16, role,
//! last seen updated); one not found by [`ABSENT_AFTER`] consecutive answered queries is
//! `absent`. A failed query counts for nothing. A device onboarded less than [`JOIN_GRACE`] ago
//! is not counted missing (it may still be attaching) until a query has found it.
//!
//! Role, kept simple: `router` when the RLOC16's child id (low 9 bits) is 0, else `child`;
//! `device_type` `ftd` when the MLE Mode's device type bit (0x08) is set, else `mtd`.
//!
//! Saved when a state, an address or a learnt EUI-64 changes; a new `last_seen` alone is kept in
//! memory until the next save (so `devices.json` is not rewritten every interval).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use control::devices::{Device, STATE_ABSENT, STATE_ATTACHED};

/// Consecutive answered queries a device must be missing from to become `absent`.
pub(crate) const ABSENT_AFTER: u32 = 2;
/// A device onboarded this recently is not counted missing.
pub(crate) const JOIN_GRACE: Duration = Duration::from_secs(60);

/// One device that answered a presence query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) eui64: [u8; 8],
    pub(crate) ext_address: Option<[u8; 8]>,
    pub(crate) rloc16: Option<u16>,
    /// The MLE Mode TLV's bits.
    pub(crate) mode: Option<u8>,
}

/// A boxed future (the sources are used as trait objects).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where presence and the current dataset's timestamp come from: in the agent, a network
/// diagnostics query through the Border Agent (`commissioner::Service::diag_query`) and the
/// co-processor's active dataset; in tests, a script.
pub(crate) trait PresenceSource: Send + Sync {
    /// The devices that answered within `wait`; `Err` when the query could not be made.
    fn query(&self, wait: Duration) -> BoxFuture<'_, Result<Vec<Seen>, String>>;
    /// The seconds of the active dataset's Active Timestamp now, if there is one.
    fn active_timestamp(&self) -> BoxFuture<'_, Option<u64>>;
}

/// A change of state the inventory announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Attached(String),
    Absent(String),
}

/// The in-memory part of presence: consecutive misses and recent onboardings, per Joiner ID.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    misses: HashMap<String, u32>,
    joined: HashMap<String, Instant>,
}

/// `router` or `child` from an RLOC16, `ftd` or `mtd` from an MLE Mode.
pub(crate) fn role_of(rloc16: Option<u16>, mode: Option<u8>) -> (Option<String>, Option<String>) {
    let role = rloc16.map(|r| if r & 0x01ff == 0 { "router" } else { "child" }.to_string());
    let kind = mode.map(|m| if m & 0x08 != 0 { "ftd" } else { "mtd" }.to_string());
    (role, kind)
}

impl Tracker {
    /// A device was just onboarded (not counted missing for [`JOIN_GRACE`]).
    pub(crate) fn onboarded(&mut self, joiner_id: &str, now: Instant) {
        self.joined.insert(joiner_id.to_string(), now);
        self.misses.remove(joiner_id);
    }

    /// A record was removed.
    pub(crate) fn forget(&mut self, joiner_id: &str) {
        self.joined.remove(joiner_id);
        self.misses.remove(joiner_id);
    }

    /// Applies one answered query to the records; returns the state changes and whether any
    /// record changed (to be saved). `seen_at` is the RFC 3339 time of the answer.
    pub(crate) fn apply<'a>(
        &mut self,
        devices: impl Iterator<Item = &'a mut Device>,
        seen: &[Seen],
        now: Instant,
        seen_at: &str,
    ) -> (Vec<Change>, bool) {
        self.joined
            .retain(|_, t| now.saturating_duration_since(*t) < JOIN_GRACE);
        let mut changes = Vec::new();
        let mut dirty = false;
        for d in devices {
            let found = seen.iter().find(|s| {
                let eui = hex::encode(s.eui64);
                d.eui64.as_deref() == Some(eui.as_str())
                    || hex::encode(meshcop::credentials::joiner_id(&s.eui64)) == d.joiner_id
            });
            match found {
                Some(s) => {
                    // Seen: it has attached, so the join grace is over.
                    self.misses.remove(&d.joiner_id);
                    self.joined.remove(&d.joiner_id);
                    let (role, kind) = role_of(s.rloc16, s.mode);
                    let before = (d.ext_address.clone(), d.rloc16.clone(), d.eui64.clone());
                    if d.eui64.is_none() {
                        d.eui64 = Some(hex::encode(s.eui64));
                    }
                    d.ext_address = s.ext_address.map(hex::encode);
                    d.rloc16 = s.rloc16.map(|r| format!("0x{r:04x}"));
                    d.role = role;
                    d.device_type = kind;
                    // `last_seen` alone does not rewrite the file (no flash write a minute per
                    // device); it is saved with the next change.
                    d.last_seen = Some(seen_at.to_string());
                    dirty |= before != (d.ext_address.clone(), d.rloc16.clone(), d.eui64.clone());
                    if d.state != STATE_ATTACHED {
                        d.state = STATE_ATTACHED.into();
                        changes.push(Change::Attached(d.joiner_id.clone()));
                        dirty = true;
                    }
                }
                None if self.joined.contains_key(&d.joiner_id) => {}
                None => {
                    let m = self.misses.entry(d.joiner_id.clone()).or_insert(0);
                    *m = m.saturating_add(1);
                    if *m >= ABSENT_AFTER && d.state != STATE_ABSENT {
                        d.state = STATE_ABSENT.into();
                        changes.push(Change::Absent(d.joiner_id.clone()));
                        dirty = true;
                    }
                }
            }
        }
        (changes, dirty)
    }
}
