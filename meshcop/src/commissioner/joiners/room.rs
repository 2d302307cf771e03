//! Room for joiner handshakes: the session slots (per joiner router and in all, with eviction of
//! old unauthenticated sessions), the handshake rates ([`super::Admission`]), and the waiting list
//! of verified ClientHellos that found no room: they start as soon as a slot or a token frees
//! ([`JoinerLimits::max_waiting`], [`JoinerLimits::max_wait`]), instead of after the joiner's DTLS
//! retransmission.

use super::*;

/// How often the waiting ClientHellos are tried again while they wait for a rate's token (the
/// rates earn tokens every 125 ms or more).
pub(super) const WAITING_RETRY: Duration = Duration::from_millis(50);

/// A verified ClientHello waiting for room ([`JoinerLimits::max_waiting`],
/// [`JoinerLimits::max_wait`]).
pub(super) struct Waiting {
    pub(super) key: SessionKey,
    pub(super) from: JoinerAddr,
    pub(super) record: Vec<u8>,
    pub(super) client_random: [u8; 32],
    pub(super) cookie_key: Zeroizing<Vec<u8>>,
    pub(super) since: Instant,
}

/// Why [`Joiners::admit`] refused a handshake; `wait`: only for want of room (slots or rate
/// tokens), so the ClientHello may wait for it.
pub(super) struct Refusal {
    pub(super) why: String,
    pub(super) wait: bool,
}

impl Joiners {
    /// Starts the handshakes of waiting ClientHellos there is now room for, oldest first (one
    /// that still finds its joiner router full does not hold up the others); drops those that
    /// waited longer than [`JoinerLimits::max_wait`] or whose entry is gone.
    pub(super) fn admit_waiting(&mut self, cx: &mut JoinerCx<'_>, now: Instant) {
        self.retry_waiting_at = None;
        let max_wait = cx.config.joiner_limits.max_wait;
        let mut keep = VecDeque::new();
        while let Some(w) = self.waiting.pop_front() {
            if now >= w.since + max_wait {
                cx.refused(format!(
                    "ClientHello of joiner {} waited {max_wait:?} for room; dropped",
                    hex::encode(credentials::joiner_id_from_iid(&w.key.0))
                ));
                continue;
            }
            let joiner_id = credentials::joiner_id_from_iid(&w.from.joiner_iid);
            let Some(entry) = table::best_entry(cx.entries, now, &joiner_id) else {
                cx.dropped(format!(
                    "waiting ClientHello of joiner {}: its entry is gone",
                    hex::encode(joiner_id)
                ));
                continue;
            };
            let kind = entry.kind;
            match self.admit(cx, now, w.key, kind, &w.client_random) {
                Ok(()) => self.begin_handshake(
                    cx,
                    now,
                    &w.from,
                    &w.record,
                    w.client_random,
                    kind,
                    &w.cookie_key,
                ),
                Err(r) if r.wait => keep.push_back(w),
                Err(r) => cx.refused(format!(
                    "ClientHello of joiner {} refused: {}",
                    hex::encode(joiner_id),
                    r.why
                )),
            }
        }
        if !keep.is_empty() {
            self.retry_waiting_at = Some(now + WAITING_RETRY);
        }
        self.waiting = keep;
    }

    /// Whether a cookie-bearing ClientHello of the joiner `key` may start a handshake: not a
    /// replay of a handshake its session already had, not a restart sooner than
    /// `restart_interval`, room for the session (evicting the oldest unauthenticated one at least
    /// `evictable_after` old of the router, or of all, when full; sessions of wildcard and
    /// discerner entries before those of EUI-64 entries), and a token of both rates of its class.
    /// Checked before any EC work.
    pub(super) fn admit(
        &mut self,
        cx: &mut JoinerCx<'_>,
        now: Instant,
        key: SessionKey,
        kind: JoinerKind,
        random: &[u8; 32],
    ) -> Result<(), Refusal> {
        let fin = |why: String| Refusal { why, wait: false };
        let room = |why: String| Refusal { why, wait: true };
        let named = match kind {
            JoinerKind::Eui64(e) => Some(e),
            _ => None,
        };
        let limits = &cx.config.joiner_limits;
        if let Some(old) = self.sessions.get(&key) {
            if old.client_random == *random || old.seen_randoms.contains(random) {
                return Err(fin("a replayed ClientHello of an earlier handshake".into()));
            }
            if now < old.started + limits.restart_interval {
                return Err(fin(format!(
                    "the joiner restarted within {:?} of its last handshake",
                    limits.restart_interval
                )));
            }
        }
        let router = key.1;
        let others = |s: &BTreeMap<SessionKey, JoinerSession>, r: Option<u16>| {
            s.keys()
                .filter(|k| **k != key && r.is_none_or(|r| k.1 == r))
                .count()
        };
        let router_full = others(&self.sessions, Some(router)) >= limits.sessions_per_router;
        let full = others(&self.sessions, None) >= cx.config.max_joiner_sessions;
        let victim = |s: &BTreeMap<SessionKey, JoinerSession>, r: Option<u16>| {
            s.iter()
                .filter(|(k, v)| {
                    **k != key
                        && !v.authenticated
                        && now >= v.started + limits.evictable_after
                        && r.is_none_or(|r| k.1 == r)
                })
                .min_by_key(|(_, v)| (matches!(v.info.entry, JoinerKind::Eui64(_)), v.started))
                .map(|(k, _)| *k)
        };
        let evict = match (router_full, full) {
            (true, _) => Some(victim(&self.sessions, Some(router)).ok_or_else(|| {
                room(format!(
                    "joiner router {router:#06x} has its {} sessions, none evictable",
                    limits.sessions_per_router
                ))
            })?),
            (false, true) => Some(victim(&self.sessions, None).ok_or_else(|| {
                room(format!(
                    "joiner session limit ({}) reached, none evictable",
                    cx.config.max_joiner_sessions
                ))
            })?),
            (false, false) => None,
        };
        self.admission
            .take_handshake(limits, now, router, named)
            .map_err(|why| room(format!("over {why}")))?;
        if let Some(k) = evict.and_then(|k| self.sessions.remove(&k)) {
            tracing::info!(joiner_id = %k.info.joiner_id, joiner_router = k.info.joiner_router, "unauthenticated joiner session evicted for a new one");
            let ev = Event::JoinerHandshakeFailed {
                joiner: k.info.clone(),
                reason: HandshakeFailure::Protocol(
                    "evicted before authenticating (session slots full)".into(),
                ),
            };
            self.session_event(cx, now, &k, ev);
        }
        Ok(())
    }
}
