//! [`SerialNcp`]: the simulated co-processor (`ot-ncp-ftd`) behind a *serial device* the test can
//! unplug and plug back in, for the agent's `spinel+hdlc+uart://` path.
//!
//! The "device" is a symlink in the sandbox (`<sandbox>/ttyNCP`) to the slave side of a
//! pseudo-terminal; a relay thread copies bytes between the pty master and the co-processor's
//! stdin/stdout (pipes). [`SerialNcp::unplug`] removes the symlink and closes the master (the
//! agent's open port hangs up, as with a USB device that goes away); [`SerialNcp::plug`] makes a
//! new pty and symlink (the device node comes back). The co-processor keeps running meanwhile;
//! what it writes while unplugged is dropped.
//!
//! Guarantees: the co-processor is registered with the [`Sandbox`] (killed with it); the relay
//! thread ends when the co-processor's output ends.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use crate::bins::ot_bins;
use crate::sandbox::{Sandbox, NCP_NODE_ID};

/// The co-processor behind an unpluggable serial device.
pub struct SerialNcp {
    link: PathBuf,
    master: Arc<Mutex<Option<File>>>,
    child: Child,
}

fn open_pty() -> Result<(OwnedFd, PathBuf)> {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two fds into the out pointers; name/termios/winsize may be null.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        bail!("openpty: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just returned by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd()))?;
    // SAFETY: cfmakeraw on a termios filled by tcgetattr of a pty we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    // The slave is opened again by the agent; keeping our copy would hide its hang-up. (Closing
    // it before the agent opens is fine on Linux: the master keeps the pty.)
    drop(slave);
    Ok((master, path))
}

/// Copies the co-processor's output to the master (when plugged in) and the master's input to
/// the co-processor, until the co-processor's output ends.
fn relay(
    mut from_ncp: std::process::ChildStdout,
    mut to_ncp: ChildStdin,
    master: Arc<Mutex<Option<File>>>,
) {
    let mut buf = [0u8; 4096];
    loop {
        let m = master
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|f| f.try_clone().ok());
        let mut fds = vec![libc::pollfd {
            fd: from_ncp.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(m) = &m {
            fds.push(libc::pollfd {
                fd: m.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: poll on fds we hold open for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if n <= 0 {
            continue;
        }
        if fds[0].revents != 0 {
            match from_ncp.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(k) => {
                    if let Some(mut m) = m.as_ref() {
                        let _ = m.write_all(&buf[..k]);
                    }
                }
            }
        }
        if let (Some(p), Some(mut m)) = (fds.get(1), m.as_ref()) {
            if p.revents & libc::POLLIN != 0 {
                if let Ok(k @ 1..) = m.read(&mut buf) {
                    if to_ncp.write_all(&buf[..k]).is_err() {
                        return;
                    }
                }
            } else if p.revents != 0 {
                // Nobody has the slave open (between the agent's close and reopen): wait.
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

impl SerialNcp {
    /// Starts `ot-ncp-ftd` (node [`NCP_NODE_ID`]) in the sandbox and plugs its device in.
    pub fn start(sb: &Sandbox) -> Result<SerialNcp> {
        let mut cmd = Command::new(&ot_bins()?.ncp);
        cmd.arg(NCP_NODE_ID.to_string())
            .current_dir(sb.path())
            .env("PORT_OFFSET", sb.port_offset().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        crate::proc::harden(&mut cmd);
        let mut child = cmd.spawn().context("starting ot-ncp-ftd")?;
        sb.register(child.id());
        let (out, inp) = (
            child.stdout.take().context("no stdout")?,
            child.stdin.take().context("no stdin")?,
        );
        let master = Arc::new(Mutex::new(None));
        let m = master.clone();
        std::thread::spawn(move || relay(out, inp, m));
        let ncp = SerialNcp {
            link: sb.path().join("ttyNCP"),
            master,
            child,
        };
        ncp.plug()?;
        Ok(ncp)
    }

    /// The device path for the radio URL.
    pub fn device(&self) -> &std::path::Path {
        &self.link
    }

    /// The radio URL of the device.
    pub fn radio_url(&self) -> String {
        format!(
            "spinel+hdlc+uart://{}?uart-baudrate=115200",
            self.link.display()
        )
    }

    /// The co-processor's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The device node appears (a new pty behind the symlink).
    pub fn plug(&self) -> Result<()> {
        let (master, slave) = open_pty()?;
        *self.master.lock().unwrap() = Some(File::from(master));
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&slave, &self.link)
            .with_context(|| format!("linking {} to {}", self.link.display(), slave.display()))
    }

    /// The device goes away: the node disappears and the open port hangs up.
    pub fn unplug(&self) -> Result<()> {
        std::fs::remove_file(&self.link)?;
        self.master.lock().unwrap().take();
        Ok(())
    }
}
