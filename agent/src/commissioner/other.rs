//! Another commissioner (an external one, e.g. a phone app through the LAN relay) holds the role.
//!
//! Known from two sources: the leader named it when it rejected our petition
//! ([`Commissioner::other_commissioner`], its Commissioner ID), or, while we have no session, the
//! leader's Commissioning Data carries a Border Agent Locator (someone is active) with a session
//! ID that was never ours. While another commissioner is active, `commissioner.start` and
//! `joiner.add` / `joiner.import` fail with `commissioner_busy` ("another commissioner is active:
//! <id>"; nothing is added) and `commissioner.status` shows `other_commissioner`. We do not
//! fight: the state machine re-petitions at a steady `retry_other_commissioner` (10 s) pace only
//! while a session is wanted (`always_on`, `commissioner.start`, live entries), and takes over
//! at the first petition after the other one resigned (or timed out at the leader). A change of
//! the leader's network data that shows no active commissioner any more (no Border Agent
//! Locator) brings that petition forward ([`Task::on_leader_data`]).

use super::*;

/// `commissioner_busy`: another commissioner is active; we ask again every `retry`.
pub(super) fn busy(other: &str, retry: Duration) -> MethodError {
    MethodError::new(
        code::COMMISSIONER_BUSY,
        format!(
            "another commissioner is active: {other} (this agent petitions again every {} s while it wants the role; nothing changed)",
            retry.as_secs()
        ),
    )
}

/// Whether the leader's network data shows an active commissioner (Commissioning Data with a
/// Border Agent Locator); its session ID.
pub(super) fn active_session(netdata: &[u8]) -> Option<u16> {
    let cd = meshcop::netdata::commissioning_data(netdata)?;
    let d = CommissionerDataset::parse(cd).ok()?;
    d.border_agent_locator?;
    d.session_id
}

impl Task {
    /// [`busy`] with our state machine's retry interval.
    pub(super) fn busy(&self, other: &str) -> MethodError {
        let retry = self.comm.as_ref().map_or(Duration::from_secs(10), |c| {
            c.config().retry_other_commissioner
        });
        busy(other, retry)
    }

    /// The leader's network data changed: when we wait to retry because another commissioner
    /// held the role and the data shows none active now, petition at once (once per change;
    /// a rejection puts us back on the steady pace).
    pub(super) fn on_leader_data(&mut self, netdata: &[u8]) {
        let Some(c) = self.comm.as_mut() else { return };
        if c.state() != State::WaitingRetry || c.other_commissioner().is_none() {
            return;
        }
        if active_session(netdata).is_none() {
            tracing::info!(
                "the other commissioner is gone from the leader's data: petitioning now"
            );
            c.start(Instant::now());
        }
    }

    /// Who else is the active commissioner (its ID, or `session N` when only the leader's data
    /// tells), or `None`.
    pub(super) async fn other_commissioner(&mut self) -> Option<String> {
        let state = self.comm.as_ref().map_or(State::Idle, Commissioner::state);
        if !matches!(state, State::Idle | State::WaitingRetry) {
            return None;
        }
        if let Some(id) = self
            .comm
            .as_ref()
            .and_then(Commissioner::other_commissioner)
        {
            return Some(format!("{id:?}"));
        }
        let net = self.net.clone();
        let nd = net
            .client
            .get(prop::THREAD_LEADER_NETWORK_DATA)
            .await
            .ok()?;
        let sid = active_session(&nd)?;
        // The leader still shows our own lost session until it times out.
        (self.last_session != Some(sid)).then(|| format!("session {sid}"))
    }
}
