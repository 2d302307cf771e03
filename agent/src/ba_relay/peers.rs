//! The relay's peer table: (address, port) -> the full LAN socket address (scope id included),
//! bounded, idle entries expire.

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

/// LAN peers the relay knows.
pub(crate) struct Peers {
    max: usize,
    idle: Duration,
    map: HashMap<(Ipv6Addr, u16), (SocketAddrV6, Instant)>,
}

impl Peers {
    pub(crate) fn new(max: usize, idle: Duration) -> Peers {
        Peers {
            max,
            idle,
            map: HashMap::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        let idle = self.idle;
        self.map
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < idle);
    }

    /// Records a datagram from `from`; false (nothing changes) when `from` is new and the table
    /// is full of live peers.
    pub(crate) fn touch(&mut self, from: SocketAddrV6, now: Instant) -> bool {
        let key = (*from.ip(), from.port());
        if let Some(e) = self.map.get_mut(&key) {
            *e = (from, now);
            return true;
        }
        if self.map.len() >= self.max {
            self.expire(now);
            if self.map.len() >= self.max {
                return false;
            }
        }
        self.map.insert(key, (from, now));
        true
    }

    /// The socket address of the live peer (`addr`, `port`), refreshed.
    pub(crate) fn lookup(
        &mut self,
        addr: Ipv6Addr,
        port: u16,
        now: Instant,
    ) -> Option<SocketAddrV6> {
        let idle = self.idle;
        let e = self.map.get_mut(&(addr, port))?;
        if now.saturating_duration_since(e.1) >= idle {
            self.map.remove(&(addr, port));
            return None;
        }
        e.1 = now;
        Some(e.0)
    }

    /// Live peers.
    pub(crate) fn len(&mut self, now: Instant) -> usize {
        self.expire(now);
        self.map.len()
    }
}
