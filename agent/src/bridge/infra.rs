//! The infrastructure link (the LAN) for the co-processor's border routing manager: a raw
//! ICMPv6 socket bound to the infrastructure interface that carries router/neighbor discovery
//! both ways (RFC 4861: hop limit 255 on send, only hop limit 255 accepted on receive).
//!
//! Received RS/RA/NS/NA go to the co-processor as `INFRA_IF_RECV_ICMP6`; what it asks to send
//! (`INFRA_IF_SEND_ICMP6`, typically RAs advertising the OMR prefix in a Route Information
//! Option and an on-link prefix) is sent on the link. The kernel fills in the ICMPv6 checksum
//! (raw ICMPv6 sockets always do) and the source address (the interface's link-local one).
//!
//! Guarantees: no panics on received bytes; messages with a hop limit other than 255, from
//! another interface or from one of our own addresses are dropped.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::netif::NetifError;
use super::wire::icmp6;

/// A received ND message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) src: Ipv6Addr,
    pub(crate) ifindex: u32,
    pub(crate) hop_limit: Option<u8>,
    pub(crate) message: Vec<u8>,
}

/// The raw ICMPv6 socket on the infrastructure interface.
pub(crate) struct InfraSocket {
    fd: AsyncFd<Socket>,
    pub(crate) ifindex: u32,
}

fn sock_err(what: &str) -> impl FnOnce(io::Error) -> NetifError + '_ {
    move |source| NetifError::Socket {
        what: what.to_string(),
        source,
    }
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` outlives the call and the length matches its type.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl InfraSocket {
    /// Opens the socket on interface `name` / `ifindex`.
    pub(crate) fn open(name: &str, ifindex: u32) -> Result<InfraSocket, NetifError> {
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
            .map_err(sock_err("raw ICMPv6 socket"))?;
        s.bind_device(Some(name.as_bytes()))
            .map_err(sock_err("SO_BINDTODEVICE"))?;
        let fd = s.as_raw_fd();
        // Only ND messages: ICMP6_FILTER is a 256-bit block mask (bit set = blocked).
        let mut filter = [u32::MAX; 8];
        for t in [
            icmp6::ROUTER_SOLICIT,
            icmp6::ROUTER_ADVERT,
            icmp6::NEIGHBOR_SOLICIT,
            icmp6::NEIGHBOR_ADVERT,
        ] {
            filter[usize::from(t >> 5)] &= !(1u32 << (t & 31));
        }
        // SAFETY: `filter` outlives the call and the length matches it.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_ICMPV6,
                1, /* ICMP6_FILTER */
                filter.as_ptr().cast(),
                32,
            )
        };
        if rc != 0 {
            return Err(sock_err("ICMP6_FILTER")(io::Error::last_os_error()));
        }
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
            .map_err(sock_err("IPV6_RECVPKTINFO"))?;
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
            .map_err(sock_err("IPV6_RECVHOPLIMIT"))?;
        s.set_multicast_hops_v6(255)
            .map_err(sock_err("IPV6_MULTICAST_HOPS"))?;
        s.set_unicast_hops_v6(255)
            .map_err(sock_err("IPV6_UNICAST_HOPS"))?;
        s.set_multicast_loop_v6(false)
            .map_err(sock_err("IPV6_MULTICAST_LOOP"))?;
        s.set_multicast_if_v6(ifindex)
            .map_err(sock_err("IPV6_MULTICAST_IF"))?;
        // Router solicitations go to all-routers; join it (forwarding usually has already).
        match s.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2), ifindex) {
            Err(e) if e.raw_os_error() != Some(libc::EADDRINUSE) => {
                return Err(sock_err("join ff02::2")(e))
            }
            _ => {}
        }
        s.set_nonblocking(true).map_err(sock_err("O_NONBLOCK"))?;
        // SAFETY: the socket is owned by the AsyncFd and closed only when it drops, so its fd
        // stays open and the same for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register(s) }
            .map_err(|e| sock_err("register with tokio")(e.into()))?;
        Ok(InfraSocket { fd, ifindex })
    }

    /// Sends an ICMPv6 message to `dst` on the link.
    pub(crate) async fn send(&self, dst: Ipv6Addr, message: &[u8]) -> io::Result<()> {
        let scope = if dst.is_unicast_link_local() || dst.octets()[0] == 0xff {
            self.ifindex
        } else {
            0
        };
        let to = SockAddr::from(SocketAddrV6::new(dst, 0, 0, scope));
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(message, &to)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives the next ND message (with its hop limit and arrival interface).
    pub(crate) async fn recv(&self) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| recvmsg(s.get_ref().as_raw_fd())) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recvmsg(fd: i32) -> io::Result<Received> {
    let mut buf = [0u8; 1500];
    let mut control = [0u64; 16]; // 128 bytes, aligned for cmsghdr
    let mut from = MaybeUninit::<libc::sockaddr_in6>::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is a valid "empty" header; every pointer set below points to a
    // live buffer of the stated length for the duration of the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = from.as_mut_ptr().cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: see above.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote a sockaddr_in6 (AF_INET6 socket); zeroed otherwise.
    let from = unsafe { from.assume_init() };
    let src = Ipv6Addr::from(from.sin6_addr.s6_addr);
    let mut hop_limit = None;
    let mut ifindex = from.sin6_scope_id;
    // SAFETY: CMSG_* walk the control buffer the kernel filled, bounded by msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>());
                hop_limit = u8::try_from(v).ok();
            } else if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_PKTINFO {
                let info = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>());
                ifindex = info.ipi6_ifindex;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        src,
        ifindex,
        hop_limit,
        message: buf[..n as usize].to_vec(),
    })
}
