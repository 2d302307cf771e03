//! [`Commissioner::set_border_agent`]: the co-processor's Border Agent port as an input, so that
//! the decision to re-petition after a co-processor reset is the state machine's alone.

use super::*;

#[test]
fn reset_sends_nothing_until_the_port_is_known() {
    let mut w = World::active();
    w.comm.set_border_agent(w.now, None);
    assert!(w.comm.awaiting_border_agent());
    assert_eq!(w.comm.border_agent_port(), None);
    assert_eq!(w.comm.state(), State::WaitingRetry);
    w.shuttle();
    assert!(w.has(|e| *e
        == Event::Disconnected {
            reason: "co-processor reset".into()
        }));
    // Long past the backoff: the retry timer fires but no handshake starts without a port.
    w.ba.renew();
    for _ in 0..10 {
        w.now += Duration::from_secs(60);
        w.comm.handle_timeout(w.now);
        assert_eq!(w.comm.poll_transmit(), None);
    }
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert_eq!(w.comm.poll_timeout(), None);
    // The border agent is back: petition at once.
    w.comm.set_border_agent(w.now, Some(49191));
    assert!(!w.comm.awaiting_border_agent());
    assert_eq!(w.comm.border_agent_port(), Some(49191));
    assert_eq!(w.comm.state(), State::Connecting);
    assert!(w.run_until(Duration::from_secs(60), World::re_petitioned));
}

#[test]
fn port_known_before_the_backoff_ends_petitions_at_once() {
    let mut w = World::active();
    w.comm.set_border_agent(w.now, None);
    w.shuttle();
    w.ba.renew();
    w.comm.set_border_agent(w.now, Some(1000));
    assert_eq!(w.comm.state(), State::Connecting);
    assert!(w.run_until(Duration::from_secs(1), |w| w.comm.state() == State::Active));
    assert_eq!(w.ba.petitions, 2);
}

#[test]
fn idle_commissioner_waits_for_start_and_start_waits_for_the_port() {
    let mut w = World::new(PSKC, PSKC);
    // A reset while idle: nothing to drop, but the port is unknown from now on.
    w.comm.set_border_agent(w.now, None);
    w.shuttle();
    assert!(w.events.is_empty());
    assert_eq!(w.comm.state(), State::Idle);
    w.comm.start(w.now);
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert_eq!(w.comm.poll_transmit(), None);
    w.comm.set_border_agent(w.now, Some(1000));
    assert!(w.run_until(Duration::from_secs(30), |w| w.comm.state() == State::Active));

    // A known port on an idle commissioner does not start it: `start` does.
    let mut w = World::new(PSKC, PSKC);
    w.comm.set_border_agent(w.now, Some(1000));
    assert_eq!(w.comm.state(), State::Idle);
    assert_eq!(w.comm.poll_transmit(), None);
    w.comm.start(w.now);
    assert_eq!(w.comm.state(), State::Connecting);
}

#[test]
fn rejection_retry_timing_is_unchanged_with_a_known_port() {
    let mut w = World::new(PSKC, PSKC);
    w.comm.set_border_agent(w.now, Some(1000));
    w.ba.accept_petition = false;
    w.comm.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w
        .has(|e| matches!(e, Event::PetitionRejected { .. }))));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    let retry = w.comm.poll_timeout().unwrap();
    // The fake leader names another commissioner: the steady pace, not the backoff.
    assert_eq!(retry, w.now + w.comm.config().retry_other_commissioner);
    // Reporting the same port again changes nothing.
    w.comm.set_border_agent(w.now, Some(1000));
    assert_eq!(w.comm.state(), State::WaitingRetry);
    assert_eq!(w.comm.poll_timeout(), Some(retry));
}

#[test]
fn reset_while_resigning_ends_idle() {
    let mut w = World::active();
    w.comm.stop(w.now);
    assert_eq!(w.comm.state(), State::Resigning);
    w.comm.set_border_agent(w.now, None);
    assert_eq!(w.comm.state(), State::Idle);
    w.shuttle();
    assert!(w.has(|e| *e == Event::Resigned));
}
