//! The Border Agent session: petition (separate and piggybacked answers), keep-alive, resignation,
//! rejection and backoff, wrong PSKc, co-processor reset, stop while connecting.

use super::*;

#[test]
fn petition_keep_alive_and_resign() {
    let mut w = World::active();
    assert_eq!(w.comm.session_id(), Some(0x1234));
    assert_eq!(w.ba.petitions, 1);
    assert!(w.has(|e| *e == Event::PetitionAccepted { session_id: 0x1234 }));
    // Empty table: 16 zero bytes, as OpenThread's ComputeBloomFilter.
    assert_eq!(w.last_steering(), vec![0u8; 16]);
    assert_eq!(w.ba.set_session_ids, vec![0x1234]);
    w.run_until(Duration::from_secs(60), |_| false);
    assert!(w.ba.keep_alives.len() >= 2, "{:?}", w.ba.keep_alives);
    assert!(w.ba.keep_alives.iter().all(|&s| s == 1));
    assert_eq!(w.comm.state(), State::Active);

    w.comm.stop(w.now);
    assert_eq!(w.comm.state(), State::Resigning);
    assert!(w.run_until(Duration::from_secs(10), |w| w
        .has(|e| *e == Event::Resigned)));
    assert_eq!(w.ba.keep_alives.last(), Some(&-1));
    assert_eq!(w.comm.state(), State::Idle);
    assert!(
        w.ba.conn.is_finished(),
        "close_notify reached the border agent"
    );
    assert_eq!(w.comm.poll_timeout(), None);
}

#[test]
fn piggybacked_petition_answer_is_accepted() {
    let mut w = World::new(PSKC, PSKC);
    w.ba.separate_petition_response = false;
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w.comm.state() == State::Active));
}

#[test]
fn wrong_pskc_is_border_agent_auth_failed_and_retried() {
    let mut other = PSKC;
    other[0] ^= 1;
    let mut w = World::new(other, PSKC);
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .has(|e| *e == Event::BorderAgentAuthFailed)));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert!(w.comm.poll_timeout().is_some());
    // It tries again after the backoff, and fails the same way.
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .count(|e| *e == Event::BorderAgentAuthFailed)
        == 2));
    assert_eq!(w.ba.petitions, 0);
    // With the right PSKc it gets through.
    w.comm.set_credentials(Pskc::from_bytes(PSKC), MLP);
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active));
}

#[test]
fn rejected_petition_is_retried_with_backoff() {
    let mut w = World::new(PSKC, PSKC);
    w.ba.accept_petition = false;
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w
        .has(|e| matches!(e, Event::PetitionRejected { .. }))));
    let reason = w.events.iter().find_map(|e| match e {
        Event::PetitionRejected { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("other-commissioner"));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert_eq!(w.comm.other_commissioner(), Some("other-commissioner"));
    // While the leader names another commissioner, the retry pace stays flat (no doubling).
    for k in 2..5 {
        let retry = w.comm.poll_timeout().unwrap().duration_since(w.now);
        assert!(retry <= Duration::from_secs(10), "{retry:?}");
        assert!(w.run_until(Duration::from_secs(30), |w| w.ba.petitions == k
            && w.comm.state() == State::WaitingRetry));
    }
    w.ba.accept_petition = true;
    assert!(w.run_until(Duration::from_secs(60), |w| w.comm.state() == State::Active));
    assert_eq!(w.ba.petitions, 5);
    assert_eq!(w.comm.other_commissioner(), None);
}

#[test]
fn rejected_keep_alive_re_petitions() {
    let mut w = World::active();
    w.ba.accept_keep_alive = false;
    assert!(w.run_until(Duration::from_secs(60), |w| w
        .has(|e| matches!(e, Event::KeepAliveFailed { .. }))));
    w.ba.accept_keep_alive = true;
    assert!(w.run_until(Duration::from_secs(60), World::re_petitioned));
}

#[test]
fn coprocessor_reset_reconnects() {
    let mut w = World::active();
    w.comm.reset(w.now);
    w.shuttle();
    assert!(w.has(|e| *e
        == Event::Disconnected {
            reason: "co-processor reset".into()
        }));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    w.ba.renew();
    assert!(w.run_until(Duration::from_secs(60), World::re_petitioned));
}

#[test]
fn stop_while_connecting_and_reset_while_resigning() {
    let mut w = World::new(PSKC, PSKC);
    w.comm.start(w.now);
    assert_eq!(w.comm.state(), State::Connecting);
    w.comm.stop(w.now);
    w.shuttle();
    assert_eq!(w.comm.state(), State::Idle);
    assert!(w.has(|e| matches!(e, Event::Disconnected { .. })));
    assert_eq!(w.comm.poll_timeout(), None, "no retry after stop");

    let mut w = World::active();
    w.comm.stop(w.now);
    assert_eq!(w.comm.state(), State::Resigning);
    w.comm.reset(w.now);
    w.shuttle();
    assert_eq!(w.comm.state(), State::Idle);
    assert!(w.has(|e| *e == Event::Resigned));
    // Start again after a stop: a new petition.
    w.ba.renew();
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), World::re_petitioned));
}
