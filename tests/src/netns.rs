//! Network namespaces for end-to-end tests that need their own network stack: a namespace made
//! with `ip netns add` and deleted on drop (also when a test fails), entered by the calling thread
//! only (`setns`), or used from a helper thread. Needs root, /dev/net/tun and iproute2
//! ([`can_run`] says, with a message, when not).
//!
//! The simulated radio is UDP multicast on the loopback interface of the namespace a node runs
//! in, so the agent and all simulation nodes must run in ONE namespace (entered by the test
//! thread with [`Netns::enter`]); LAN hosts live in others, joined by veth pairs.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, bail, Context, Result};

/// A network namespace created with `ip netns add`, deleted on drop (also when a test fails).
pub struct Netns {
    pub name: String,
}

pub fn run_ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("running ip {args:?}"))?;
    if !out.status.success() {
        bail!(
            "ip {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Netns {
    pub fn new(tag: &str) -> Result<Netns> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "tabr{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run_ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// Writes a sysctl inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = value.to_string();
        self.run(move || std::fs::write(&path, value).with_context(|| format!("writing {path}")))?
    }

    pub fn open(&self) -> Result<File> {
        File::open(format!("/run/netns/{}", self.name))
            .with_context(|| format!("opening netns {}", self.name))
    }

    /// Moves the calling thread into the namespace until the guard drops.
    pub fn enter(&self) -> Result<NetnsGuard> {
        let back = File::open("/proc/thread-self/ns/net").context("opening the current netns")?;
        setns(&self.open()?)?;
        Ok(NetnsGuard { back })
    }

    /// Runs `f` on a helper thread inside the namespace (sockets it creates stay there).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let ns = self.open()?;
        std::thread::spawn(move || -> Result<T> {
            setns(&ns)?;
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow!("thread in namespace panicked"))?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_ip(&["netns", "del", &self.name]) {
            eprintln!("cannot delete network namespace {}: {e:#}", self.name);
        }
    }
}

fn setns(f: &File) -> Result<()> {
    // SAFETY: setns on a namespace file descriptor we own; affects only the calling thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

pub struct NetnsGuard {
    back: File,
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = setns(&self.back);
    }
}

/// Whether this machine can run namespace tests (root, /dev/net/tun, `ip`).
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ok = root
        && std::path::Path::new("/dev/net/tun").exists()
        && Command::new("ip").arg("-V").output().is_ok();
    if !ok {
        eprintln!("skipped: needs root, /dev/net/tun and iproute2");
    }
    ok
}

/// The BR end of [`LanPair`]'s veth pair (`[bridge] infra_interface`).
pub const INFRA_IF: &str = "infra0";
/// The LAN end of [`LanPair`]'s veth pair.
pub const LAN_IF: &str = "lan0";

/// Two namespaces joined by a veth pair: `br` (the agent, its co-processor and the Thread nodes;
/// its end [`INFRA_IF`]) and `lan` (a LAN host; its end [`LAN_IF`], with `accept_ra` and route
/// information up to /64, so it learns the OMR route from the agent's RAs). Both ends are up.
pub struct LanPair {
    pub br: Netns,
    pub lan: Netns,
}

impl LanPair {
    /// `addrs`: (BR end, LAN end) address/prefix pairs added before the links go up (IPv6 ones
    /// without duplicate address detection).
    pub fn new(addrs: &[(&str, &str)]) -> Result<LanPair> {
        let br = Netns::new("br")?;
        let lan = Netns::new("lan")?;
        br.ip(&[
            "link", "add", INFRA_IF, "type", "veth", "peer", "name", LAN_IF, "netns", &lan.name,
        ])?;
        lan.sysctl(&format!("net.ipv6.conf.{LAN_IF}.accept_ra"), "1")?;
        lan.sysctl(
            &format!("net.ipv6.conf.{LAN_IF}.accept_ra_rt_info_max_plen"),
            "64",
        )?;
        for (ns, dev, a) in addrs
            .iter()
            .flat_map(|(b, l)| [(&br, INFRA_IF, *b), (&lan, LAN_IF, *l)])
        {
            let mut args = vec!["addr", "add", a, "dev", dev];
            if a.contains(':') {
                args.push("nodad");
            }
            ns.ip(&args)?;
        }
        br.ip(&["link", "set", INFRA_IF, "up"])?;
        lan.ip(&["link", "set", LAN_IF, "up"])?;
        Ok(LanPair { br, lan })
    }
}
