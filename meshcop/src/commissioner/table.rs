//! The joiner table: which joiners are admitted ([`JoinerKind`], best match EUI-64 > longest
//! discerner > wildcard, as OpenThread `Commissioner::FindBestMatchingJoinerEntry`), with expiry, the
//! linger of a consumed EUI-64 entry, and the steering data the table calls for (OpenThread
//! `ComputeBloomFilter`). Guarantees: entries never show their PSKd ([`EntryInfo`] has none).

use super::*;

/// Which joiners an entry admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinerKind {
    /// One device, by factory EUI-64.
    Eui64([u8; 8]),
    /// Devices whose Joiner ID carries this discerner.
    Discerner(Discerner),
    /// Any joiner (wildcard).
    Any,
}

impl fmt::Display for JoinerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinerKind::Eui64(e) => write!(f, "eui64 {}", hex::encode(e)),
            JoinerKind::Discerner(d) => write!(f, "discerner {:#x}/{}", d.value(), d.bits()),
            JoinerKind::Any => f.write_str("any"),
        }
    }
}

impl JoinerKind {
    /// Whether a joiner with this Joiner ID is admitted.
    pub fn matches(&self, joiner_id: &[u8; 8]) -> bool {
        match self {
            JoinerKind::Eui64(e) => credentials::joiner_id(e) == *joiner_id,
            JoinerKind::Discerner(d) => d.matches(joiner_id),
            JoinerKind::Any => true,
        }
    }
    fn rank(&self) -> u32 {
        match self {
            JoinerKind::Eui64(_) => 1000,
            JoinerKind::Discerner(d) => 1 + u32::from(d.bits()),
            JoinerKind::Any => 0,
        }
    }
}

/// A joiner table entry (its `Debug` redacts the PSKd).
#[derive(Clone, Debug)]
pub struct JoinerEntry {
    pub kind: JoinerKind,
    pub pskd: Pskd,
    pub expires_at: Instant,
}

/// A printable view of an entry (no PSKd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub kind: JoinerKind,
    /// The Joiner ID (16 hex digits) of an EUI-64 entry.
    pub joiner_id: Option<String>,
    pub expires_at: Instant,
    /// Its joiner was entrusted: the entry lingers until `expires_at`, then is removed.
    pub joined: bool,
}

impl Commissioner {
    /// Adds an entry, or replaces the entry of the same kind. Updates the steering data.
    pub fn add(&mut self, now: Instant, entry: JoinerEntry) -> Result<(), Error> {
        self.joined.retain(|k| *k != entry.kind);
        if let Some(e) = self.entries.iter_mut().find(|e| e.kind == entry.kind) {
            *e = entry;
        } else {
            if self.entries.len() >= self.config.max_entries {
                return Err(Error::TableFull {
                    max: self.config.max_entries,
                });
            }
            tracing::info!(entry = %entry.kind, "joiner entry added");
            self.entries.push(entry);
        }
        self.table_changed(now);
        Ok(())
    }

    /// Removes the entry of this kind; false when there was none. Sessions already started with
    /// it continue.
    pub fn remove(&mut self, now: Instant, kind: &JoinerKind) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.kind != *kind);
        self.joined.retain(|k| k != kind);
        if self.entries.len() == before {
            return false;
        }
        self.events.push_back(Event::EntryRemoved {
            kind: *kind,
            reason: RemovalReason::Operator,
        });
        self.table_changed(now);
        true
    }

    /// The table, without PSKds.
    pub fn list(&self) -> Vec<EntryInfo> {
        self.entries
            .iter()
            .map(|e| EntryInfo {
                kind: e.kind,
                joiner_id: match &e.kind {
                    JoinerKind::Eui64(x) => Some(hex::encode(credentials::joiner_id(x))),
                    _ => None,
                },
                expires_at: e.expires_at,
                joined: self.joined.contains(&e.kind),
            })
            .collect()
    }

    pub(super) fn desired_steering(&self) -> SteeringData {
        if self.entries.iter().any(|e| e.kind == JoinerKind::Any) {
            return SteeringData::allow_any();
        }
        let mut s = SteeringData::default();
        for e in &self.entries {
            match &e.kind {
                JoinerKind::Eui64(x) => s.add_eui64(x),
                JoinerKind::Discerner(d) => s.add_discerner(d),
                JoinerKind::Any => {}
            }
        }
        s
    }

    pub(super) fn table_changed(&mut self, now: Instant) {
        let want = self.desired_steering();
        let Some(a) = self.session.active() else {
            return;
        };
        let in_flight = a.comm_set.as_ref().map(|s| &s.steering);
        if in_flight == Some(&want)
            || (in_flight.is_none() && a.steering_acked.as_ref() == Some(&want))
        {
            return;
        }
        self.send_comm_set(now);
    }

    #[cfg(test)]
    pub(super) fn best_entry(&self, now: Instant, joiner_id: &[u8; 8]) -> Option<&JoinerEntry> {
        best_entry(&self.entries, now, joiner_id)
    }

    /// An entrusted joiner consumes its EUI-64 entry: OpenThread's `RemoveJoiner(entry,
    /// kRemoveJoinerDelay)` brings its expiry forward (never back) by `consumed_entry_linger`, and
    /// the expiry then removes it as Joined; with no linger it goes at once. Discerner and
    /// wildcard entries stay.
    pub(super) fn consume_entry(&mut self, now: Instant, kind: JoinerKind) {
        if !matches!(kind, JoinerKind::Eui64(_)) {
            return;
        }
        let linger = self.config.consumed_entry_linger;
        if !linger.is_zero() {
            if let Some(e) = self.entries.iter_mut().find(|e| e.kind == kind) {
                e.expires_at = e.expires_at.min(now + linger);
                if !self.joined.contains(&kind) {
                    self.joined.push(kind);
                }
            }
            return;
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.kind != kind);
        if self.entries.len() != before {
            self.events.push_back(Event::EntryRemoved {
                kind,
                reason: RemovalReason::Joined,
            });
            self.table_changed(now);
        }
    }

    /// Removes the entries expired at `now` (a lingering joined entry as Joined).
    pub(super) fn expire_entries(&mut self, now: Instant) {
        // Entry expiry.
        let mut expired = Vec::new();
        self.entries.retain(|e| {
            if e.expires_at <= now {
                expired.push(e.kind);
                false
            } else {
                true
            }
        });
        if !expired.is_empty() {
            for kind in expired {
                if self.joined.contains(&kind) {
                    self.joined.retain(|k| *k != kind);
                    tracing::info!(entry = %kind, "joined entry removed after its linger");
                    self.events.push_back(Event::EntryRemoved {
                        kind,
                        reason: RemovalReason::Joined,
                    });
                } else {
                    tracing::info!(entry = %kind, "joiner entry expired");
                    self.events.push_back(Event::EntryExpired { kind });
                }
            }
            self.table_changed(now);
        }
    }
}

/// The best-matching live entry for a Joiner ID (EUI-64 > longest discerner > wildcard).
pub(super) fn best_entry<'e>(
    entries: &'e [JoinerEntry],
    now: Instant,
    joiner_id: &[u8; 8],
) -> Option<&'e JoinerEntry> {
    entries
        .iter()
        .filter(|e| e.expires_at > now && e.kind.matches(joiner_id))
        .max_by_key(|e| e.kind.rank())
}
