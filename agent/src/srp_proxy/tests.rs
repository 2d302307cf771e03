//! The decode path and the registry with frames the real co-processor cannot produce
//! (malformed ones), a recording publisher instead of mDNS, and the request/answer loop against
//! the in-memory fake co-processor. The real path (simulation NCP, mdns-sd, a real mDNS client)
//! is tests/tests/srp.rs.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use ncp::props::dnssd::{self, ot_error, Host, Key, Request, RequestResult, Service};
use ncp::spinel::{cmd, prop};
use proptest::prelude::*;

use super::registry::{routable, Advert, Handled, PublishError, Publisher, Registry};
use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Publish(Advert),
    Unpublish(String, String),
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Publisher for Recorder {
    fn publish(&mut self, a: &Advert) -> Result<(), PublishError> {
        // The real publisher's validation, without a daemon.
        super::mdns::service_info(a)?;
        self.0.lock().unwrap().push(Call::Publish(a.clone()));
        Ok(())
    }
    fn unpublish(&mut self, i: &str, t: &str) {
        self.0
            .lock()
            .unwrap()
            .push(Call::Unpublish(i.into(), t.into()));
    }
}

const CTX: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const OMR: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xabcd, 0, 1, 0x1111, 0x2222, 0x3333, 0x4444);
const ML: Ipv6Addr = Ipv6Addr::new(0xfd77, 0x1, 0x2, 0x3, 0, 0, 0, 0);
const ML_EID: Ipv6Addr = Ipv6Addr::new(0xfd77, 0x1, 0x2, 0x3, 0x9, 0x8, 0x7, 0x6);
const RLOC: Ipv6Addr = Ipv6Addr::new(0xfd99, 0, 0, 0, 0, 0xff, 0xfe00, 0x0400);
const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4);

fn req(id: u32) -> Request {
    Request {
        id,
        context: CTX.to_vec(),
    }
}

fn host(name: &str, addrs: &[Ipv6Addr], id: u32) -> Vec<u8> {
    dnssd::encode_host(&Host {
        name: name.into(),
        addresses: addrs.to_vec(),
        request: req(id),
    })
}

fn service(host: &str, instance: &str, id: u32) -> Service {
    Service {
        host: host.into(),
        instance: instance.into(),
        service_type: "_test._udp".into(),
        subtypes: vec!["_s1".into(), "_s2".into()],
        txt: b"\x03a=b\x05bin=\xfe\x04flag".to_vec(),
        port: 12345,
        priority: 0,
        weight: 0,
        ttl: 7200,
        request: req(id),
    }
}

fn ok(id: u32) -> Handled {
    Handled::Answer(RequestResult {
        error: ot_error::NONE,
        request: req(id),
    })
}

fn registry() -> (Registry, Recorder) {
    let mut r = Registry::default();
    r.set_mesh_local(Some(ML));
    (r, Recorder::default())
}

#[test]
fn only_routable_addresses() {
    assert!(routable(&OMR, Some(&ML)));
    assert!(!routable(&ML_EID, Some(&ML)));
    assert!(!routable(&RLOC, Some(&ML)));
    assert!(!routable(&LL, None));
    assert!(!routable(&Ipv6Addr::UNSPECIFIED, None));
}

#[test]
fn host_then_service_is_published_with_routable_addresses() {
    let (mut r, mut p) = registry();
    let h = host("dev1", &[ML_EID, OMR, LL, RLOC], 1);
    assert_eq!(r.handle(cmd::INSERTED, prop::DNSSD_HOST, &h, &mut p), ok(1));
    assert!(p.take().is_empty(), "a host alone is not published");
    let s = dnssd::encode_service(&service("dev1", "ins1", 2));
    assert_eq!(
        r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p),
        ok(2)
    );
    let calls = p.take();
    let Call::Publish(a) = &calls[0] else {
        panic!("{calls:?}")
    };
    assert_eq!(a.addresses, vec![OMR]);
    assert_eq!(a.subtype.as_deref(), Some("_s1"));
    assert_eq!((a.host.as_str(), a.port), ("dev1", 12345));
    assert_eq!(
        a.txt,
        vec![
            ("a".to_string(), Some(b"b".to_vec())),
            ("bin".to_string(), Some(vec![0xfe])),
            ("flag".to_string(), None),
        ]
    );
    assert_eq!(r.counts(), (1, 1, 1, 0));
    // Removal: goodbye.
    assert_eq!(
        r.handle(cmd::REMOVED, prop::DNSSD_SERVICE, &s, &mut p),
        ok(2)
    );
    assert_eq!(
        p.take(),
        vec![Call::Unpublish("ins1".into(), "_test._udp".into())]
    );
    assert_eq!(r.counts(), (1, 0, 0, 0));
}

#[test]
fn service_waits_for_its_host_and_follows_its_addresses() {
    let (mut r, mut p) = registry();
    let s = dnssd::encode_service(&service("dev2", "ins2", 5));
    assert_eq!(
        r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p),
        ok(5)
    );
    assert!(p.take().is_empty());
    assert_eq!(r.counts(), (0, 1, 0, 0));
    let h = host("DEV2", &[OMR], 6);
    assert_eq!(r.handle(cmd::INSERTED, prop::DNSSD_HOST, &h, &mut p), ok(6));
    assert!(matches!(&p.take()[..], [Call::Publish(a)] if a.addresses == vec![OMR]));
    // The host loses its routable address: withdrawn, still registered.
    let h = host("dev2", &[ML_EID], 7);
    r.handle(cmd::INSERTED, prop::DNSSD_HOST, &h, &mut p);
    assert_eq!(
        p.take(),
        vec![Call::Unpublish("ins2".into(), "_test._udp".into())]
    );
    assert_eq!(r.counts(), (1, 1, 0, 0));
}

#[test]
fn removing_a_host_withdraws_its_services() {
    let (mut r, mut p) = registry();
    let h = host("dev3", &[OMR], 20);
    r.handle(cmd::INSERTED, prop::DNSSD_HOST, &h, &mut p);
    let s = dnssd::encode_service(&service("dev3", "ins3", 21));
    r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p);
    assert!(matches!(&p.take()[..], [Call::Publish(_)]));
    assert_eq!(r.handle(cmd::REMOVED, prop::DNSSD_HOST, &h, &mut p), ok(20));
    assert_eq!(
        p.take(),
        vec![Call::Unpublish("ins3".into(), "_test._udp".into())]
    );
    assert_eq!(r.counts(), (0, 1, 0, 0));
}

#[test]
fn keys_are_answered_not_published_and_reset_clears() {
    let (mut r, mut p) = registry();
    let k = dnssd::encode_key(&Key {
        name: "dev1".into(),
        service_type: None,
        data: vec![0; 68],
        class: 1,
        ttl: 7200,
        request: req(9),
    });
    assert_eq!(
        r.handle(cmd::INSERTED, prop::DNSSD_KEY_RECORD, &k, &mut p),
        ok(9)
    );
    r.handle(
        cmd::INSERTED,
        prop::DNSSD_HOST,
        &host("dev1", &[OMR], 10),
        &mut p,
    );
    let s = dnssd::encode_service(&service("dev1", "ins1", 11));
    r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p);
    assert_eq!(r.counts(), (1, 1, 1, 1));
    p.take();
    r.clear(&mut p);
    assert_eq!(
        p.take(),
        vec![Call::Unpublish("ins1".into(), "_test._udp".into())]
    );
    assert_eq!(r.counts(), (0, 0, 0, 0));
}

#[test]
fn the_co_processors_own_service_is_answered_not_published() {
    let (mut r, mut p) = registry();
    let s = dnssd::encode_service(&service("", "BR 1234", 3));
    assert_eq!(
        r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p),
        ok(3)
    );
    assert!(p.take().is_empty());
    assert_eq!(r.counts(), (0, 0, 0, 0));
}

#[test]
fn bad_txt_is_refused_with_invalid_args() {
    let (mut r, mut p) = registry();
    r.handle(
        cmd::INSERTED,
        prop::DNSSD_HOST,
        &host("dev1", &[OMR], 1),
        &mut p,
    );
    let mut s = service("dev1", "ins1", 2);
    s.txt = b"\x09short".to_vec();
    let h = r.handle(
        cmd::INSERTED,
        prop::DNSSD_SERVICE,
        &dnssd::encode_service(&s),
        &mut p,
    );
    assert_eq!(
        h,
        Handled::Answer(RequestResult {
            error: ot_error::INVALID_ARGS,
            request: req(2)
        })
    );
    assert_eq!(r.counts(), (1, 0, 0, 0));
}

#[test]
fn malformed_frames_change_nothing() {
    let (mut r, mut p) = registry();
    r.handle(
        cmd::INSERTED,
        prop::DNSSD_HOST,
        &host("dev1", &[OMR], 1),
        &mut p,
    );
    let s = dnssd::encode_service(&service("dev1", "ins1", 2));
    r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p);
    p.take();
    let before = r.counts();
    // Truncated service (cut inside the TXT data), a host whose count overruns, a wrong command.
    for (c, pr, v) in [
        (cmd::REMOVED, prop::DNSSD_SERVICE, s[..30].to_vec()),
        (cmd::INSERTED, prop::DNSSD_HOST, b"dev1\0\x05\x00".to_vec()),
        (cmd::IS, prop::DNSSD_SERVICE, s.clone()),
        (cmd::INSERTED, prop::DNSSD_KEY_RECORD, vec![0xff]),
    ] {
        assert!(
            matches!(r.handle(c, pr, &v, &mut p), Handled::Malformed(_)),
            "{c} {pr}"
        );
    }
    assert!(p.take().is_empty());
    assert_eq!(r.counts(), before);
}

proptest! {
    /// Garbage in any DNS-SD property never panics and never removes what is published.
    #[test]
    fn garbage_frames(bytes in proptest::collection::vec(any::<u8>(), 0..200), which in 0usize..3) {
        let (mut r, mut p) = registry();
        r.handle(cmd::INSERTED, prop::DNSSD_HOST, &host("dev1", &[OMR], 1), &mut p);
        let s = dnssd::encode_service(&service("dev1", "ins1", 2));
        r.handle(cmd::INSERTED, prop::DNSSD_SERVICE, &s, &mut p);
        let pr = [prop::DNSSD_HOST, prop::DNSSD_SERVICE, prop::DNSSD_KEY_RECORD][which];
        let _ = r.handle(cmd::INSERTED, pr, &bytes, &mut p);
        prop_assert!(r.counts().2 <= 2);
    }
}

#[test]
fn service_info_for_mdns_sd() {
    let a = Advert {
        instance: "ins1".into(),
        service_type: "_test._udp".into(),
        subtype: Some("_s1".into()),
        host: "dev1".into(),
        addresses: vec![OMR],
        port: 12345,
        txt: vec![("bin".into(), Some(vec![0xfe, 0])), ("flag".into(), None)],
    };
    let i = super::mdns::service_info(&a).unwrap();
    assert_eq!(i.get_fullname(), "ins1._test._udp.local.");
    assert_eq!(i.get_hostname(), "dev1.local.");
    assert_eq!(
        i.get_subtype().as_deref(),
        Some("_s1._sub._test._udp.local.")
    );
    assert_eq!(i.get_property_val("bin"), Some(Some(&[0xfe, 0][..])));
    assert_eq!(i.get_property_val("flag"), Some(None));
    assert_eq!(i.get_port(), 12345);
}

#[test]
fn null_callbacks_are_not_answered() {
    assert!(wants_answer(&req(1)));
    assert!(!wants_answer(&Request {
        id: 1,
        context: vec![0; 8]
    }));
    assert!(!wants_answer(&Request {
        id: 1,
        context: Vec::new()
    }));
}

#[test]
fn unsupported_firmware_is_recognised() {
    let status = |s| ncp::Error::Status {
        prop: prop::DNSSD_STATE,
        status: s,
    };
    assert!(dnssd_unsupported(&status(
        ncp::spinel::Status::PropNotFound
    )));
    assert!(dnssd_unsupported(&status(ncp::spinel::Status::Other(2))));
    assert!(!dnssd_unsupported(&ncp::Error::Closed));
}

#[test]
fn status_fields() {
    let v = status_json(&Status {
        advertising: false,
        reason: Some("why".into()),
        malformed: 2,
        ..Status::default()
    });
    for k in [
        "advertising",
        "reason",
        "hosts",
        "services",
        "published",
        "malformed",
        "requests",
        "dropped",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
}

/// Against the in-memory co-processor: ready at start, every request answered with its id and
/// context, malformed frames counted, ready again after a reset.
#[tokio::test]
async fn answers_every_request_and_says_ready_again_after_reset() {
    let (fake, client, _events) = crate::fake_ncp::FakeNcp::start();
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::channel(QUEUE);
    let (control, control_rx) = mpsc::unbounded_channel();
    let rec = Recorder::default();
    tokio::spawn(run(
        client,
        shared.clone(),
        rx,
        control_rx,
        Ok(Box::new(rec.clone())),
    ));
    let inlet = Inlet {
        tx: tx.clone(),
        control,
        shared: shared.clone(),
    };
    let ev = |command, p, value: Vec<u8>| Event::Property {
        command,
        prop: p,
        value,
    };
    let wait = |what: &'static str, f: &dyn Fn() -> bool| {
        let ok = (0..500).any(|_| {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
            false
        });
        assert!(ok, "{what}");
    };
    tokio::task::yield_now().await;
    inlet.event(&ev(
        cmd::INSERTED,
        prop::DNSSD_HOST,
        host("dev1", &[OMR], 41),
    ));
    inlet.event(&ev(cmd::INSERTED, prop::DNSSD_SERVICE, b"garbage".to_vec()));
    let s = dnssd::encode_service(&service("dev1", "ins1", 42));
    inlet.event(&ev(cmd::INSERTED, prop::DNSSD_SERVICE, s));
    let want = dnssd::encode_request_result(&RequestResult {
        error: ot_error::NONE,
        request: req(42),
    });
    let f = &fake;
    tokio::task::spawn_blocking({
        let shared = shared.clone();
        let state = f.state.clone();
        move || {
            let get = |p: Prop| state.lock().unwrap().props.get(&p.0).cloned();
            wait("answer to request 42", &|| {
                get(prop::DNSSD_REQUEST_RESULT).as_ref() == Some(&want)
            });
            assert_eq!(get(prop::DNSSD_STATE), Some(vec![1]));
            let st = shared.status().clone();
            assert_eq!((st.requests, st.malformed, st.published), (2, 1, 1));
            assert!(st.advertising);
        }
    })
    .await
    .unwrap();
    assert_eq!(fake.count(cmd::SET, prop::DNSSD_REQUEST_RESULT), 2);
    inlet.event(&Event::Reset { status: 114 });
    let state = fake.state.clone();
    tokio::task::spawn_blocking(move || {
        let n = |p: Prop| {
            state
                .lock()
                .unwrap()
                .requests
                .iter()
                .filter(|(c, rp)| *c == cmd::SET && *rp == p)
                .count()
        };
        wait("DNSSD_STATE ready again", &|| n(prop::DNSSD_STATE) == 2);
    })
    .await
    .unwrap();
    assert!(rec
        .take()
        .contains(&Call::Unpublish("ins1".into(), "_test._udp".into())));
    assert_eq!(shared.status().services, 0);
}
