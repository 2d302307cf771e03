//! The leader client: MGMT_COMMISSIONER_SET through the UDP proxy, MGMT_COMMISSIONER_GET and the
//! typed Commissioner Dataset.

use super::*;

#[test]
fn commissioner_set_is_retransmitted_and_superseded() {
    let mut w = World::active();
    w.ba.drop_next_sets = 2;
    w.add_eui64(eui(3), "AAAAAA");
    // A newer change while the first is unanswered supersedes it.
    w.add(JoinerKind::Any, "AAAAAA", Duration::from_secs(600));
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.steering_data_acked()
            == Some(&SteeringData::allow_any()))
    );
    assert_eq!(w.last_steering(), vec![0xFF]);
    assert!(w.has(|e| *e
        == Event::SteeringDataUpdated {
            steering_data: "ff".into()
        }));
}

#[test]
fn leader_rejecting_steering_data_is_reported_and_retried_at_the_next_keep_alive() {
    let mut w = World::active();
    let before = w.ba.steering_sets.len();
    w.ba.drop_next_sets = 100;
    w.add(JoinerKind::Any, "AAAAAA", Duration::from_secs(3600));
    assert!(w.run_until(Duration::from_secs(120), |w| w
        .has(|e| matches!(e, Event::SteeringDataRejected { .. }))));
    w.ba.drop_next_sets = 0;
    assert!(
        w.run_until(Duration::from_secs(60), |w| w.comm.steering_data_acked()
            == Some(&SteeringData::allow_any()))
    );
    assert_eq!(w.ba.steering_sets.len(), before + 1);
}

fn datasets(w: &World, request: u32) -> Vec<CommissionerDataset> {
    w.events
        .iter()
        .filter_map(|e| match e {
            Event::CommissionerDataset {
                request: r,
                dataset,
            } if *r == request => Some(dataset.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn commissioner_get_reports_our_session_and_steering_data() {
    let mut w = World::active();
    let e = eui(7);
    w.add_eui64(e, "J01NME");
    assert!(w.run_until(Duration::from_secs(10), |w| w.ba.steering_sets.len() == 2));

    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(w.run_until(Duration::from_secs(10), |w| !datasets(w, id).is_empty()));
    let d = datasets(&w, id).remove(0);
    assert_eq!(d.session_id, w.comm.session_id());
    assert_eq!(d.session_id, Some(0x1234));
    assert_eq!(d.border_agent_locator, Some(0x0400));
    assert_eq!(
        d.steering().as_ref(),
        Some(&SteeringData::from_joiner_ids([&credentials::joiner_id(
            &e
        )]))
    );
    assert_eq!(d.steering().as_ref(), w.comm.steering_data_acked());
    assert_eq!(d.joiner_udp_port, None);
    assert!(d.other.is_empty());
    assert_eq!(w.ba.commissioner_gets, 1);
    assert_eq!(w.comm.stats().dropped, 0);

    // With a Get TLV: only what was asked for.
    let id2 = w
        .comm
        .commissioner_get(w.now, &[types::COMMISSIONER_SESSION_ID])
        .unwrap();
    assert_ne!(id, id2);
    assert!(w.run_until(Duration::from_secs(10), |w| !datasets(w, id2).is_empty()));
    assert_eq!(
        datasets(&w, id2)[0],
        CommissionerDataset {
            session_id: Some(0x1234),
            ..Default::default()
        }
    );
    assert_eq!(w.comm.state(), State::Active);
}

#[test]
fn commissioner_get_is_retransmitted_then_gives_up() {
    let mut w = World::active();
    w.ba.drop_next_gets = 2;
    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(w.run_until(Duration::from_secs(30), |w| !datasets(w, id).is_empty()));
    assert_eq!(w.ba.commissioner_gets, 3, "two retransmissions");
    assert_eq!(datasets(&w, id)[0].session_id, Some(0x1234));

    // A Border Agent that never answers: MAX_RETRANSMIT retransmissions, then a failure event;
    // the session itself is unaffected.
    w.ba.drop_next_gets = u32::MAX;
    w.ba.commissioner_gets = 0;
    let id = w.comm.commissioner_get(w.now, &[]).unwrap();
    assert!(
        w.run_until(Duration::from_secs(200), |w| w.has(|e| matches!(
            e,
            Event::CommissionerGetFailed { request, .. } if *request == id
        )))
    );
    assert_eq!(
        w.ba.commissioner_gets,
        1 + u32::from(Retransmitter::MAX_RETRANSMIT)
    );
    assert_eq!(w.comm.state(), State::Active);
    assert!(w.comm.poll_timeout().is_some());
}

#[test]
fn commissioner_get_needs_a_session_and_fails_when_it_ends() {
    let mut w = World::new(PSKC, PSKC);
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::NotConnected)
    );
    let mut w = World::active();
    let ids: Vec<u32> = (0..MAX_OUTSTANDING_GETS)
        .map(|_| w.comm.commissioner_get(w.now, &[]).unwrap())
        .collect();
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::TooManyRequests {
            max: MAX_OUTSTANDING_GETS
        })
    );
    // The co-processor resets before any answer arrives: each request fails.
    w.comm.reset(w.now);
    while let Some(e) = w.comm.poll_event() {
        w.events.push(e);
    }
    for id in ids {
        assert!(w.has(|e| matches!(
            e,
            Event::CommissionerGetFailed { request, .. } if *request == id
        )));
    }
    assert_eq!(
        w.comm.commissioner_get(w.now, &[]),
        Err(Error::NotConnected)
    );
}

#[test]
fn commissioner_dataset_wire_format() {
    // A c/cg answer payload as OpenThread's leader copies its Commissioning Data sub-TLVs
    // (Session ID, Border Agent Locator, Steering Data) plus a Joiner UDP Port and an unknown TLV.
    let bytes = hex::decode("0b0204d20902fc00080400000012120203e87f0101").unwrap();
    let d = CommissionerDataset::parse(&bytes).unwrap();
    assert_eq!(d.session_id, Some(1234));
    assert_eq!(d.border_agent_locator, Some(0xfc00));
    assert_eq!(d.steering_data.as_deref(), Some(&[0, 0, 0, 0x12][..]));
    assert_eq!(d.joiner_udp_port, Some(1000));
    assert_eq!(d.other, vec![Tlv::new(0x7f, vec![1])]);
    assert_eq!(tlv::encode_all(&d.to_tlvs()).unwrap(), bytes);
    assert_eq!(
        CommissionerDataset::parse(&[]).unwrap(),
        CommissionerDataset::default()
    );
    assert!(CommissionerDataset::parse(&hex::decode("0b0104").unwrap()).is_err());
    assert!(CommissionerDataset::parse(&hex::decode("0b0204").unwrap()).is_err());
    assert_eq!(
        CommissionerDataset {
            steering_data: Some(vec![]),
            ..Default::default()
        }
        .steering(),
        None
    );
}
