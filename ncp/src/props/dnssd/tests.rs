use super::*;
use proptest::prelude::*;

const CTX: [u8; 8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0, 0];
const OMR: Ipv6Addr = Ipv6Addr::new(0xfd11, 0x22, 0, 0, 0x1234, 0x5678, 0x9abc, 0xdef0);

fn req(id: u32) -> Request {
    Request {
        id,
        context: CTX.to_vec(),
    }
}

/// The bytes `EncodeDnssd<otPlatDnssdHost>` writes (after the property key), built by hand.
#[test]
fn host_matches_the_co_processor_encoding() {
    let mut v = b"dev1\0".to_vec();
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&OMR.octets());
    v.extend_from_slice(&7u32.to_le_bytes());
    v.extend_from_slice(&CTX);
    let h = decode_host(&v).unwrap();
    assert_eq!(
        h,
        Host {
            name: "dev1".into(),
            addresses: vec![OMR],
            request: req(7),
        }
    );
    assert_eq!(encode_host(&h), v);
    // The count says 2 but only one address follows: an error, not a panic.
    let mut bad = b"dev1\0".to_vec();
    bad.extend_from_slice(&2u16.to_le_bytes());
    bad.extend_from_slice(&OMR.octets());
    assert!(decode_host(&bad).is_err());
    assert!(decode_host(b"dev1\0\x01").is_err());
}

#[test]
fn service_matches_the_co_processor_encoding() {
    let mut v = b"dev1\0ins1\0_test._udp\0".to_vec();
    // t(A(U)): u16 length, then the labels.
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(b"_s1\0");
    // d: TXT wire data.
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(b"\x03a=b");
    for x in [12345u16, 1, 2] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&120u32.to_le_bytes());
    v.extend_from_slice(&9u32.to_le_bytes());
    v.extend_from_slice(&CTX);
    let s = decode_service(&v).unwrap();
    assert_eq!(s.host, "dev1");
    assert_eq!(s.instance, "ins1");
    assert_eq!(s.service_type, "_test._udp");
    assert_eq!(s.subtypes, vec!["_s1".to_string()]);
    assert_eq!(s.txt, b"\x03a=b");
    assert_eq!((s.port, s.priority, s.weight, s.ttl), (12345, 1, 2, 120));
    assert_eq!(s.request, req(9));
    assert_eq!(encode_service(&s), v);
    // Cut anywhere before the request id: an error.
    for n in 0..v.len() - CTX.len() - 4 {
        assert!(decode_service(&v[..n]).is_err(), "cut at {n}");
    }
}

#[test]
fn key_for_host_and_for_service() {
    let host_key = Key {
        name: "dev1".into(),
        service_type: None,
        data: vec![1, 2, 3],
        class: 1,
        ttl: 7200,
        request: req(3),
    };
    let v = encode_key(&host_key);
    // Empty struct for "no service type".
    assert_eq!(&v[..7], b"dev1\0\0\0");
    assert_eq!(decode_key(&v).unwrap(), host_key);
    let svc_key = Key {
        service_type: Some("_test._udp".into()),
        ..host_key
    };
    assert_eq!(decode_key(&encode_key(&svc_key)).unwrap(), svc_key);
}

#[test]
fn state_and_result() {
    assert_eq!(encode_state(DnssdState::Ready), vec![1]);
    assert_eq!(decode_state(&[0]).unwrap(), DnssdState::Stopped);
    assert!(decode_state(&[2]).is_err());
    assert!(decode_state(&[]).is_err());
    let r = RequestResult {
        error: ot_error::NONE,
        request: req(0xa1b2c3d4),
    };
    let v = encode_request_result(&r);
    // C, L (LE), then the context unframed (the co-processor reads it with ReadData).
    assert_eq!(&v[..5], &[0, 0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(&v[5..], &CTX);
    assert_eq!(decode_request_result(&v).unwrap(), r);
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9_.-]{0,24}"
}

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

proptest! {
    /// Garbage never panics in any decoder.
    #[test]
    fn garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_state(&bytes);
        let _ = decode_host(&bytes);
        let _ = decode_service(&bytes);
        let _ = decode_key(&bytes);
        let _ = decode_request_result(&bytes);
    }

    #[test]
    fn host_round_trip(
        name in label(),
        addresses in proptest::collection::vec(addr(), 0..6),
        id in any::<u32>(),
        context in proptest::collection::vec(any::<u8>(), 0..9),
    ) {
        let h = Host { name, addresses, request: Request { id, context } };
        prop_assert_eq!(decode_host(&encode_host(&h)).unwrap(), h);
    }

    #[test]
    fn service_round_trip(
        host in label(),
        instance in label(),
        service_type in label(),
        subtypes in proptest::collection::vec("[a-z_]{1,10}", 0..4),
        txt in proptest::collection::vec(any::<u8>(), 0..200),
        port in any::<u16>(),
        priority in any::<u16>(),
        weight in any::<u16>(),
        ttl in any::<u32>(),
        id in any::<u32>(),
    ) {
        let s = Service {
            host, instance, service_type, subtypes, txt, port, priority, weight, ttl,
            request: req(id),
        };
        prop_assert_eq!(decode_service(&encode_service(&s)).unwrap(), s);
    }

    #[test]
    fn key_round_trip(
        name in label(),
        service_type in proptest::option::of("[a-z_.]{1,16}"),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        class in any::<u16>(),
        ttl in any::<u32>(),
        id in any::<u32>(),
    ) {
        let k = Key { name, service_type, data, class, ttl, request: req(id) };
        prop_assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
    }

    #[test]
    fn result_round_trip(
        error in any::<u8>(),
        id in any::<u32>(),
        context in proptest::collection::vec(any::<u8>(), 0..9),
    ) {
        let r = RequestResult { error, request: Request { id, context } };
        prop_assert_eq!(decode_request_result(&encode_request_result(&r)).unwrap(), r);
    }
}
