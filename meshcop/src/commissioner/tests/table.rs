//! The joiner table: steering data following the table and expiry, table limit, best match.

use super::*;

#[test]
fn steering_data_follows_the_table_and_expiry() {
    let mut w = World::active();
    let d = Discerner::new(0xabc, 12).unwrap();
    w.add(JoinerKind::Eui64(eui(1)), "AAAAAA", Duration::from_secs(30));
    w.add(JoinerKind::Discerner(d), "BBBBBB", Duration::from_secs(40));
    assert!(
        w.run_until(Duration::from_secs(10), |w| w.comm.steering_data_acked()
            == Some(&w.comm.steering_data()))
    );
    let mut expect = SteeringData::default();
    expect.add_eui64(&eui(1));
    expect.add_discerner(&d);
    assert_eq!(w.last_steering(), expect.as_bytes());

    w.add(JoinerKind::Any, "CCCCCC", Duration::from_secs(50));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering() == [0xFF]));
    assert!(w.comm.remove(w.now, &JoinerKind::Any));
    assert!(!w.comm.remove(w.now, &JoinerKind::Any));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering()
        == expect.as_bytes()));

    // Expiry: both entries go, and the steering data is cleared.
    assert!(w.run_until(Duration::from_secs(60), |w| w
        .count(|e| matches!(e, Event::EntryExpired { .. }))
        == 2));
    assert!(w.run_until(Duration::from_secs(10), |w| w.last_steering() == [0u8; 16]));
    assert!(w.has(|e| *e
        == Event::EntryExpired {
            kind: JoinerKind::Eui64(eui(1))
        }));
    assert!(w.has(|e| *e
        == Event::EntryExpired {
            kind: JoinerKind::Discerner(d)
        }));
    assert!(w.comm.list().is_empty());
}

#[test]
fn table_full_is_an_error() {
    let now = Instant::now();
    let mut config = Config::new("x", Pskc::from_bytes(PSKC), MLP);
    config.max_entries = 1;
    let mut c = Commissioner::new(config, rng(3));
    let e = |k| JoinerEntry {
        kind: k,
        pskd: pskd("AAAAAA"),
        expires_at: now + Duration::from_secs(5),
    };
    c.add(now, e(JoinerKind::Any)).unwrap();
    c.add(now, e(JoinerKind::Any)).unwrap(); // replaces
    assert_eq!(
        c.add(now, e(JoinerKind::Eui64(eui(1)))),
        Err(Error::TableFull { max: 1 })
    );
}

#[test]
fn best_entry_prefers_the_most_specific() {
    let now = Instant::now();
    let mut c = Commissioner::new(Config::new("x", Pskc::from_bytes(PSKC), MLP), rng(3));
    let id = credentials::joiner_id(&eui(1));
    let low = u64::from_be_bytes(id) & 0xfff;
    let d = Discerner::new(low, 12).unwrap();
    let ttl = now + Duration::from_secs(5);
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Any,
            pskd: pskd("AAAAAA"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(c.best_entry(now, &id).unwrap().kind, JoinerKind::Any);
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Discerner(d),
            pskd: pskd("BBBBBB"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(
        c.best_entry(now, &id).unwrap().kind,
        JoinerKind::Discerner(d)
    );
    c.add(
        now,
        JoinerEntry {
            kind: JoinerKind::Eui64(eui(1)),
            pskd: pskd("CCCCCC"),
            expires_at: ttl,
        },
    )
    .unwrap();
    assert_eq!(
        c.best_entry(now, &id).unwrap().kind,
        JoinerKind::Eui64(eui(1))
    );
    assert!(
        c.best_entry(ttl, &id).is_none(),
        "expired entries do not match"
    );
}
