//! Child processes for the test bed: spawning with a death signal and an own process group,
//! capturing output into a searchable line log (and a file), and killing reliably.
//!
//! Guarantees: every child started through [`spawn_tracked`] gets `PR_SET_PDEATHSIG(SIGKILL)` (it
//! dies if the test process dies) and is the leader of its own process group, so [`kill_group`]
//! also reaches its children (except those that call `setsid`, like forkpty'd co-processors: those
//! are found by working directory, see [`kill_by_cwd`]). Waiting never blocks forever: every wait
//! has a deadline and reports what it saw when it expires.
//!
//! Linux delivers the death signal when the *thread* that spawned the child exits, not only the
//! process: spawn children from the test's own thread (as every helper here does), not from a
//! short-lived helper thread.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Lines of output of one process (stdout and stderr merged), appended by reader threads.
#[derive(Debug, Default)]
pub struct OutputLog {
    inner: Mutex<LogInner>,
    cond: Condvar,
}

#[derive(Debug, Default)]
struct LogInner {
    lines: Vec<String>,
    open_streams: usize,
}

/// Something a line can be matched against: a substring (`&str`) or a [`regex::Regex`].
pub trait LinePattern {
    /// True when `line` matches.
    fn matches(&self, line: &str) -> bool;
    /// How to describe the pattern in an error message.
    fn describe(&self) -> String;
}

impl LinePattern for &str {
    fn matches(&self, line: &str) -> bool {
        line.contains(*self)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl LinePattern for &regex::Regex {
    fn matches(&self, line: &str) -> bool {
        self.is_match(line)
    }
    fn describe(&self) -> String {
        format!("/{}/", self.as_str())
    }
}

impl OutputLog {
    /// Number of lines so far (a cursor for [`OutputLog::wait_for_from`]).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lines
            .len()
    }

    /// True when nothing was logged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lines
            .clone()
    }

    /// All lines so far joined with `\n`.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// The last `n` lines joined with `\n` (for error messages).
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn push(&self, line: String) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.lines.push(line);
        self.cond.notify_all();
    }

    fn stream_opened(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_streams += 1;
    }

    fn stream_closed(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.open_streams = g.open_streams.saturating_sub(1);
        self.cond.notify_all();
    }

    /// Waits until a line at index >= `from` satisfies `pred`; returns its index and text.
    /// Fails at the deadline or when the process closed its output without such a line.
    pub fn wait_until(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = from;
        loop {
            while next < g.lines.len() {
                if pred(&g.lines[next]) {
                    return Ok((next, g.lines[next].clone()));
                }
                next += 1;
            }
            if g.open_streams == 0 {
                bail!("output ended before {what} appeared");
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{what} did not appear within {timeout:?}");
            }
            g = self
                .cond
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for a line at index >= `from` matching `pattern`.
    pub fn wait_for_from(
        &self,
        from: usize,
        pattern: impl LinePattern,
        timeout: Duration,
    ) -> Result<(usize, String)> {
        let what = pattern.describe();
        self.wait_until(from, timeout, &what, |l| pattern.matches(l))
    }
}

/// Starts a thread that copies `stream` line by line into `log` and into `file` (if any).
/// CR and a leading CLI prompt stay in the line as the process wrote it, minus the trailing `\r`.
pub fn capture(stream: impl Read + Send + 'static, log: Arc<OutputLog>, file: Option<File>) {
    log.stream_opened();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut file = file;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(f) = file.as_mut() {
                        let _ = f.write_all(&buf);
                    }
                    let text = String::from_utf8_lossy(&buf);
                    log.push(text.trim_end_matches(['\n', '\r']).to_string());
                }
            }
        }
        log.stream_closed();
    });
}

/// Configures `cmd` so the child gets SIGKILL when this process dies and leads its own process
/// group.
pub fn harden(cmd: &mut Command) {
    // SAFETY: only async-signal-safe calls (prctl, setpgid) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            libc::setpgid(0, 0);
            Ok(())
        });
    }
}

/// Spawns a hardened child with piped stdin/stdout/stderr, both outputs captured into a new log
/// and into `log_file`.
pub fn spawn_tracked(cmd: &mut Command, log_file: &Path) -> Result<(Child, Arc<OutputLog>)> {
    harden(cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let log = Arc::new(OutputLog::default());
    let file =
        File::create(log_file).with_context(|| format!("creating {}", log_file.display()))?;
    let file2 = file.try_clone()?;
    if let Some(out) = child.stdout.take() {
        capture(out, log.clone(), Some(file));
    }
    if let Some(err) = child.stderr.take() {
        capture(err, log.clone(), Some(file2));
    }
    Ok((child, log))
}

/// SIGKILLs the process group led by `pid` and `pid` itself. Only for children not yet reaped.
pub fn kill_group(pid: u32) {
    let pid = pid as libc::pid_t;
    // SAFETY: plain kill(2) calls on a child we own (a zombie until reaped, so the id is ours).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a child we own.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// The ids of the processes whose parent is `pid` (from `/proc/*/stat`).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let child = e.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse::<u32>().ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(|s| s != "Z"))
            .unwrap_or(false)
    })
}

/// Waits for `child` until `timeout`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILLs every process (other than this one) whose working directory is `dir` or below it.
/// The sandbox directory is a fresh temp dir, so these are exactly the processes this test
/// started there, including forkpty'd co-processors that left our process group.
pub fn kill_by_cwd(dir: &Path) -> usize {
    let me = std::process::id();
    let Ok(dir) = dir.canonicalize() else {
        return 0;
    };
    let mut killed = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(&dir) {
            signal(pid, libc::SIGKILL);
            killed += 1;
        }
    }
    killed
}

/// Runs `cmd` to completion with stdin closed, collecting stdout and stderr; kills it and fails
/// after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    harden(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut err = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = match wait_timeout(&mut child, timeout)? {
        Some(s) => s,
        None => {
            kill_group(child.id());
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {timeout:?}");
        }
    };
    // A grandchild may hold the pipes open; do not wait for it forever.
    kill_group(child.id());
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_lines_and_waits() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo one; echo two >&2; printf 'three\\r\\n'"]);
        let (mut child, log) = spawn_tracked(&mut cmd, &dir.path().join("log")).unwrap();
        let (_, line) = log
            .wait_for_from(0, "thr", Duration::from_secs(10))
            .unwrap();
        assert_eq!(line, "three");
        child.wait().unwrap();
        let err = log
            .wait_for_from(0, "four", Duration::from_secs(10))
            .unwrap_err();
        assert!(err.to_string().contains("output ended"), "{err}");
    }

    #[test]
    fn run_with_timeout_kills() {
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("100");
        let err = run_with_timeout(&mut cmd, Duration::from_millis(200)).unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
