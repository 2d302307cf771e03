//! Byte-stream transports to the co-processor: a serial port (`tokio-serial`) or a program
//! started on a pseudo-terminal ("forkpty", how the OpenThread simulation NCP is run).
//!
//! Guarantees:
//! - Opening maps "no such device/program" to [`Error::DeviceMissing`] and "not allowed" to
//!   [`Error::PermissionDenied`], so the daemon can exit with a specific code.
//! - The forkpty child runs in its own session and process group, on a pty in raw mode (no echo,
//!   no CR/LF translation, no XON/XOFF), with `PR_SET_PDEATHSIG=SIGKILL` so it dies with the
//!   thread that spawned it (call [`Transport::open`] from a long-lived thread: tokio's worker
//!   threads or the main thread are; a `spawn_blocking` thread is not). Dropping the transport
//!   sends SIGKILL to the child's process group, reaps it, then closes the pty master.
//! - A child that exits, or an unplugged serial device, reads as end of stream (Ok(0)).
//!
//! Validated against `ot-ncp-ftd` and `ot-rcp` of the OpenThread simulation (see
//! `tests/sim_ncp.rs`). The serial path is only validated for its error mapping here (no dongle).

use crate::url::{RadioKind, RadioUrl};
use crate::Error;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::task::{ready, Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An open link to the co-processor.
#[derive(Debug)]
pub enum Transport {
    /// A serial port.
    Serial(tokio_serial::SerialStream),
    /// A child process on a pseudo-terminal.
    Pty(PtyChild),
    /// An in-memory pipe (tests and fake co-processors: the other end plays the NCP).
    Memory(tokio::io::DuplexStream),
}

impl Transport {
    /// Opens what `url` names.
    pub async fn open(url: &RadioUrl) -> Result<Transport, Error> {
        match url.kind() {
            RadioKind::Uart {
                path,
                baudrate,
                flow_control,
            } => open_serial(path, *baudrate, *flow_control),
            RadioKind::ForkPty { program, args } => {
                Ok(Transport::Pty(PtyChild::spawn(program, args)?))
            }
        }
    }
}

fn open_serial(path: &str, baudrate: u32, flow_control: bool) -> Result<Transport, Error> {
    use tokio_serial::SerialPortBuilderExt;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::DeviceMissing { path: path.into() })
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(Error::PermissionDenied { path: path.into() })
        }
        _ => {}
    }
    let flow = if flow_control {
        tokio_serial::FlowControl::Hardware
    } else {
        tokio_serial::FlowControl::None
    };
    let builder = tokio_serial::new(path, baudrate).flow_control(flow);
    match builder.open_native_async() {
        Ok(s) => Ok(Transport::Serial(s)),
        Err(e) => Err(match e.kind {
            tokio_serial::ErrorKind::Io(io::ErrorKind::NotFound) => {
                Error::DeviceMissing { path: path.into() }
            }
            tokio_serial::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
                Error::PermissionDenied { path: path.into() }
            }
            tokio_serial::ErrorKind::NoDevice => Error::Io(io::Error::other(format!(
                "{path} is busy (opened exclusively by another program?): {}",
                e.description
            ))),
            _ => Error::Io(io::Error::other(format!(
                "cannot open {path}: {}",
                e.description
            ))),
        }),
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Serial(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Pty(p) => Pin::new(p).poll_read(cx, buf),
            Transport::Memory(m) => Pin::new(m).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Serial(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Pty(p) => Pin::new(p).poll_write(cx, buf),
            Transport::Memory(m) => Pin::new(m).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Serial(s) => Pin::new(s).poll_flush(cx),
            Transport::Pty(p) => Pin::new(p).poll_flush(cx),
            Transport::Memory(m) => Pin::new(m).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Serial(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Pty(p) => Pin::new(p).poll_shutdown(cx),
            Transport::Memory(m) => Pin::new(m).poll_shutdown(cx),
        }
    }
}

/// A program running on a pseudo-terminal; we hold the master side.
#[derive(Debug)]
pub struct PtyChild {
    master: Option<AsyncFd<OwnedFd>>,
    child: Child,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl PtyChild {
    /// Starts `program args...` with its stdin and stdout on a new raw-mode pty. Its stderr is
    /// inherited. Must be called inside a tokio runtime.
    pub fn spawn(program: &str, args: &[String]) -> Result<PtyChild, Error> {
        let (master, slave) = open_raw_pty()?;
        // SAFETY: `master` is an OwnedFd we keep inside the AsyncFd and never replace or close
        // while registered (it is closed by dropping the AsyncFd).
        let master =
            unsafe { AsyncFd::register(master) }.map_err(|e| Error::Io(e.into_parts().1))?;
        let slave_out = slave.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::from(slave))
            .stdout(Stdio::from(slave_out));
        // SAFETY: the closure only calls async-signal-safe functions (setsid, sigemptyset, sigaddset,
        // sigprocmask, ioctl, prctl, getppid).
        unsafe {
            use std::os::unix::process::CommandExt;
            let parent = libc::getpid();
            let micro_timer_signal = libc::SIGRTMIN();
            cmd.pre_exec(move || {
                cvt(libc::setsid())?;
                // OpenThread's simulation platform (examples/platforms/simulation/system.c) runs
                // its infra-if/TREL/mDNS socket handlers with stale fd sets when select() is
                // interrupted by its micro-timer signal (SIGRTMIN) and then blocks for ever in
                // recvfrom(); the NCP goes silent a few seconds after `NET_STACK_UP`. Blocking
                // that signal is harmless (the select timeout covers the micro alarm) and avoids
                // the hang. Added by the agent engineer.
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, micro_timer_signal);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                // Make the pty our controlling terminal, so closing the master hangs us up.
                let _ = libc::ioctl(0, libc::TIOCSCTTY as _, 0);
                cvt(libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ))?;
                if libc::getppid() != parent {
                    // The parent died before prctl took effect.
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::DeviceMissing {
                path: program.into(),
            },
            io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: program.into(),
            },
            _ => Error::Io(io::Error::new(
                e.kind(),
                format!("cannot start {program}: {e}"),
            )),
        })?;
        drop(cmd); // closes our copies of the slave side
        tracing::debug!(program, pid = child.id(), "started co-processor on a pty");
        Ok(PtyChild {
            master: Some(master),
            child,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn open_raw_pty() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty writes two fds into the out pointers; name/termios/winsize may be null.
    cvt(unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    })?;
    // SAFETY: both fds were just returned by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: plain fcntl/termios calls on fds we own; the termios struct is fully initialised by tcgetattr.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        cvt(libc::tcgetattr(slave.as_raw_fd(), &mut t))?;
        libc::cfmakeraw(&mut t);
        cvt(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t))?;
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            let fl = cvt(libc::fcntl(fd, libc::F_GETFD))?;
            cvt(libc::fcntl(fd, libc::F_SETFD, fl | libc::FD_CLOEXEC))?;
        }
        let fl = cvt(libc::fcntl(master.as_raw_fd(), libc::F_GETFL))?;
        cvt(libc::fcntl(
            master.as_raw_fd(),
            libc::F_SETFL,
            fl | libc::O_NONBLOCK,
        ))?;
    }
    Ok((master, slave))
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "pty closed")
}

impl AsyncRead for PtyChild {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(master) = self.master.as_ref() else {
            return Poll::Ready(Ok(()));
        };
        loop {
            let mut guard = ready!(master.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            // SAFETY: reading into an initialised, exclusively borrowed buffer of the given length.
            let r = guard.try_io(|fd| {
                let n = unsafe {
                    libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // EIO on a pty master: every slave fd is closed (the child exited) -> end of stream.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyChild {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(master) = self.master.as_ref() else {
            return Poll::Ready(Err(closed()));
        };
        loop {
            let mut guard = ready!(master.poll_write_ready(cx))?;
            // SAFETY: writing from a valid slice.
            let r = guard.try_io(|fd| {
                let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {
                    return Poll::Ready(Err(closed()))
                }
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        // Kill first, then close the master: a child that saw the hang-up first could still
        // print its read error to our stderr (seen in a loaded test run: a `cat: ` fragment
        // in the middle of the agent's one error line).
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling the child's own process group (it called setsid, so pgid == pid).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
        drop(self.master.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn missing_program_is_device_missing() {
        let url = RadioUrl::forkpty("/nonexistent/ot-ncp-ftd", vec![]);
        assert!(matches!(
            Transport::open(&url).await,
            Err(Error::DeviceMissing { .. })
        ));
    }

    #[tokio::test]
    async fn missing_serial_is_device_missing() {
        let url = RadioUrl::uart("/dev/does-not-exist-ttyACM9", 115200, false);
        assert!(matches!(
            Transport::open(&url).await,
            Err(Error::DeviceMissing { .. })
        ));
    }

    #[tokio::test]
    async fn not_executable_is_permission_denied() {
        let dir = std::env::temp_dir().join(format!("ncp-noexec-{}", std::process::id()));
        std::fs::write(&dir, b"#!/bin/sh\n").unwrap();
        let url = RadioUrl::forkpty(dir.to_str().unwrap(), vec![]);
        let r = Transport::open(&url).await;
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(r, Err(Error::PermissionDenied { .. })), "{r:?}");
    }

    #[tokio::test]
    async fn pty_is_raw_and_eof_on_exit() {
        // `cat` echoes what we write; raw mode means binary bytes come back unchanged
        // (no echo doubling, no CR/LF mapping, no XON/XOFF swallowing).
        let url = RadioUrl::forkpty("cat", vec![]);
        let mut t = Transport::open(&url).await.unwrap();
        let data = [0x7E, 0x11, 0x13, 0x0A, 0x0D, 0x03, 0x04, 0x7F, 0x00, 0xFF];
        t.write_all(&data).await.unwrap();
        let mut got = vec![0u8; data.len()];
        t.read_exact(&mut got).await.unwrap();
        assert_eq!(got, data);
        drop(t);

        let url = RadioUrl::forkpty("true", vec![]);
        let mut t = Transport::open(&url).await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(t.read(&mut buf).await.unwrap(), 0);
    }
}
