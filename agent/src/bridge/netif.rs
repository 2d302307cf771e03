//! The host side of the mesh bridge: the TUN interface (created with `tun-rs`, configured with
//! rtnetlink, never with hand-written ioctls), its addresses, routes and multicast memberships,
//! and the per-interface sysctls it needs (written under `/proc/sys/net/ipv6/conf/`).
//!
//! The interface is not persistent: it disappears with the file descriptor, and the kernel
//! removes its addresses and routes with it. So a stopped (or crashed) agent leaves nothing
//! behind on `wpan0`; routes on other interfaces (the infrastructure link's on-link prefix) are
//! removed explicitly by [`Netlink::del_route`] at shutdown.
//!
//! Validated against Linux 6.x in network namespaces (tests/tests/bridge.rs).

use std::net::Ipv6Addr;

use futures_util::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{LinkAttribute, LinkFlags};
use netlink_packet_route::route::RouteProtocol;
use rtnetlink::{LinkUnspec, RouteMessageBuilder};

use super::wire::Prefix;

/// MTU of the Thread interface (IPv6 minimum; what Thread carries).
pub(crate) const MTU: u32 = 1280;

/// Errors configuring the host's network.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetifError {
    #[error("cannot create TUN interface `{name}`: {source} (run as root or with CAP_NET_ADMIN; is /dev/net/tun there? is the name already in use?)")]
    Tun {
        name: String,
        source: std::io::Error,
    },
    #[error("netlink: {what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },
    #[error("cannot open a netlink socket: {0}")]
    Connection(std::io::Error),
    #[error("interface `{0}` does not exist")]
    NoSuchInterface(String),
    #[error("sysctl {path}: {source}")]
    Sysctl {
        path: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Socket {
        what: String,
        source: std::io::Error,
    },
}

/// A netlink route socket (one task owns the connection).
#[derive(Clone)]
pub(crate) struct Netlink {
    handle: rtnetlink::Handle,
}

/// What the kernel says about a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkInfo {
    pub(crate) index: u32,
    pub(crate) up: bool,
    pub(crate) running: bool,
}

fn nl(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetifError {
    let what = what.into();
    move |source| NetifError::Netlink { what, source }
}

/// `EEXIST` / `ENOENT` / `ESRCH` from the kernel, which idempotent callers ignore.
fn is_errno(e: &rtnetlink::Error, errnos: &[i32]) -> bool {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.is_some_and(|c| errnos.contains(&-c.get())),
        _ => false,
    }
}

impl Netlink {
    /// Opens the socket and spawns its connection task.
    pub(crate) fn open() -> Result<Netlink, NetifError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetifError::Connection)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Looks up a link by name.
    pub(crate) async fn link(&self, name: &str) -> Result<LinkInfo, NetifError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => {
                let running = l.header.flags.contains(LinkFlags::Running)
                    || l.attributes.iter().any(
                        |a| matches!(a, LinkAttribute::OperState(s) if format!("{s:?}") == "Up"),
                    );
                Ok(LinkInfo {
                    index: l.header.index,
                    up: l.header.flags.contains(LinkFlags::Up),
                    running,
                })
            }
            Ok(None) => Err(NetifError::NoSuchInterface(name.into())),
            Err(e) if is_errno(&e, &[libc::ENODEV]) => {
                Err(NetifError::NoSuchInterface(name.into()))
            }
            Err(e) => Err(nl(format!("get link {name}"))(e)),
        }
    }

    /// Sets MTU and brings the link up.
    pub(crate) async fn up(&self, index: u32, mtu: u32) -> Result<(), NetifError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).mtu(mtu).up().build())
            .execute()
            .await
            .map_err(nl("set link up"))
    }

    /// The IPv6 addresses of a link.
    pub(crate) async fn addresses(&self, index: u32) -> Result<Vec<Ipv6Addr>, NetifError> {
        let mut s = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        let mut out = Vec::new();
        while let Some(m) = s.try_next().await.map_err(nl("get addresses"))? {
            for a in &m.attributes {
                if let AddressAttribute::Address(std::net::IpAddr::V6(v6)) = a {
                    out.push(*v6);
                }
            }
        }
        Ok(out)
    }

    /// Adds an address without duplicate address detection and without a prefix route (the
    /// bridge manages routes itself). Already present is fine.
    pub(crate) async fn add_address(
        &self,
        index: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
        preferred: bool,
    ) -> Result<(), NetifError> {
        let mut req = self
            .handle
            .address()
            .add(index, addr.into(), prefix_len)
            .replace();
        let mut flags = AddressFlags::Nodad | AddressFlags::Noprefixroute;
        if !preferred {
            flags |= AddressFlags::Deprecated;
        }
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(flags));
        match req.execute().await {
            Err(e) if is_errno(&e, &[libc::EEXIST]) => Ok(()),
            r => r.map_err(nl(format!("add address {addr}/{prefix_len}"))),
        }
    }

    /// Removes an address; absent is fine.
    pub(crate) async fn del_address(
        &self,
        index: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), NetifError> {
        let mut s = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(addr.into())
            .execute();
        while let Some(m) = s.try_next().await.map_err(nl("get address"))? {
            let _ = prefix_len;
            match self.handle.address().del(m).execute().await {
                Err(e) if is_errno(&e, &[libc::EADDRNOTAVAIL, libc::ENOENT]) => {}
                r => r.map_err(nl(format!("delete address {addr}")))?,
            }
        }
        Ok(())
    }

    fn route_msg(
        prefix: &Prefix,
        index: u32,
        metric: u32,
    ) -> netlink_packet_route::route::RouteMessage {
        RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(prefix.addr, prefix.len)
            .output_interface(index)
            .priority(metric)
            .protocol(RouteProtocol::Static)
            .build()
    }

    /// Adds (or replaces) `prefix dev <index> metric <metric>`.
    pub(crate) async fn add_route(
        &self,
        prefix: &Prefix,
        index: u32,
        metric: u32,
    ) -> Result<(), NetifError> {
        match self
            .handle
            .route()
            .add(Self::route_msg(prefix, index, metric))
            .replace()
            .execute()
            .await
        {
            Err(e) if is_errno(&e, &[libc::EEXIST]) => Ok(()),
            r => r.map_err(nl(format!("add route {prefix}"))),
        }
    }

    /// Removes `prefix dev <index> metric <metric>`; absent is fine.
    pub(crate) async fn del_route(
        &self,
        prefix: &Prefix,
        index: u32,
        metric: u32,
    ) -> Result<(), NetifError> {
        match self
            .handle
            .route()
            .del(Self::route_msg(prefix, index, metric))
            .execute()
            .await
        {
            Err(e) if is_errno(&e, &[libc::ESRCH, libc::ENOENT, libc::ENODEV]) => Ok(()),
            r => r.map_err(nl(format!("delete route {prefix}"))),
        }
    }
}

/// Writes `value` to `/proc/sys/<path>` (e.g. `net/ipv6/conf/all/forwarding`).
pub(crate) fn sysctl(path: &str, value: &str) -> Result<(), NetifError> {
    let full = format!("/proc/sys/{path}");
    std::fs::write(&full, value).map_err(|source| NetifError::Sysctl { path: full, source })
}

/// The TUN device plus its index.
pub(crate) struct Tun {
    pub(crate) dev: tun_rs::AsyncDevice,
    pub(crate) index: u32,
}

/// Creates the TUN interface `name` (layer 3, no packet information header), turns off the
/// kernel's own link-local address and DAD on it (the co-processor's addresses are mirrored
/// instead), sets the MTU to 1280 and brings it up.
pub(crate) async fn create_tun(nl: &Netlink, name: &str) -> Result<Tun, NetifError> {
    let tun_err = |source| NetifError::Tun {
        name: name.into(),
        source,
    };
    let dev = tun_rs::DeviceBuilder::new()
        .name(name)
        .packet_information(false)
        .inherit_enable_state()
        .build_async()
        .map_err(tun_err)?;
    let link = nl.link(name).await?;
    for (key, value) in [
        ("addr_gen_mode", "1"),
        ("accept_dad", "0"),
        ("accept_ra", "0"),
        ("autoconf", "0"),
    ] {
        if let Err(e) = sysctl(&format!("net/ipv6/conf/{name}/{key}"), value) {
            tracing::debug!(error = %e, "sysctl on the Thread interface");
        }
    }
    nl.up(link.index, MTU).await?;
    Ok(Tun {
        dev,
        index: link.index,
    })
}

/// A UDP socket used only for multicast memberships on one interface (the kernel then accepts
/// packets to those groups and reports them with MLD).
pub(crate) struct Memberships {
    sock: socket2::Socket,
    index: u32,
}

impl Memberships {
    pub(crate) fn new(index: u32) -> Result<Memberships, NetifError> {
        let sock = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .map_err(|source| NetifError::Socket {
            what: "multicast membership socket".into(),
            source,
        })?;
        Ok(Memberships { sock, index })
    }

    pub(crate) fn join(&self, group: &Ipv6Addr) -> Result<(), NetifError> {
        match self.sock.join_multicast_v6(group, self.index) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            r => r.map_err(|source| NetifError::Socket {
                what: format!("join {group}"),
                source,
            }),
        }
    }

    pub(crate) fn leave(&self, group: &Ipv6Addr) {
        let _ = self.sock.leave_multicast_v6(group, self.index);
    }
}
