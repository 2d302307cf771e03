//! Rate limit of repetitive log lines (issue 10 "growth": an add/remove loop wrote 90 KB/s of
//! log, and a flood of forged joiner datagrams repeats `joiner-seen`/`joiner-handshake-failed`).
//!
//! A line is "similar" to another when it comes from the same call site with the same `event`
//! field (so the commissioner's one logging call site is limited per event name, and
//! `network-up` is never held back by a `joiner-seen` flood). Of each kind at most [`BURST`] lines
//! pass per [`WINDOW`]; the rest are counted, and when the window is over one warning says how
//! many were suppressed: `event=lines-suppressed suppressed=N what="file:line event=..."`.
//! Debug and trace lines (asked for explicitly) are never limited.
//!
//! Guarantees: memory is bounded ([`MAX_KINDS`] kinds tracked per window; beyond that lines pass
//! unlimited); the summary comes from a background thread (at most a second late) so it is
//! written even when the flood stops, and never from inside another event's dispatch.
//!
//! Validated by the unit tests below (a flood through a real subscriber, the summary counts).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

/// Lines of one kind passed per window.
pub(crate) const BURST: u32 = 20;
/// The window.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);
/// Kinds tracked at once.
pub(crate) const MAX_KINDS: usize = 4096;
/// Target of the summary lines (never limited themselves).
pub(crate) const SUMMARY_TARGET: &str = "thread_agent::log_limit";

struct Window {
    start: Instant,
    passed: u32,
    suppressed: u64,
    what: String,
}

/// What was held back in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) what: String,
    pub(crate) count: u64,
}

/// The counting core (no clock of its own, any key).
pub(crate) struct Limiter<K> {
    windows: HashMap<K, Window>,
    burst: u32,
    window: Duration,
}

impl<K: Hash + Eq> Limiter<K> {
    pub(crate) fn new(burst: u32, window: Duration) -> Limiter<K> {
        Limiter {
            windows: HashMap::new(),
            burst,
            window,
        }
    }

    /// Whether a line of kind `key` passes at `now`; `what` describes the kind for the summary.
    pub(crate) fn admit(&mut self, now: Instant, key: K, what: impl FnOnce() -> String) -> bool {
        if let Some(w) = self.windows.get_mut(&key) {
            if now.duration_since(w.start) < self.window {
                if w.passed < self.burst {
                    w.passed += 1;
                    return true;
                }
                w.suppressed += 1;
                return false;
            }
            // Over: the summary is collected by `expire`; a quiet kind starts afresh.
            if w.suppressed == 0 {
                *w = Window {
                    start: now,
                    passed: 1,
                    suppressed: 0,
                    what: std::mem::take(&mut w.what),
                };
            }
            return true;
        }
        if self.windows.len() < MAX_KINDS {
            self.windows.insert(
                key,
                Window {
                    start: now,
                    passed: 1,
                    suppressed: 0,
                    what: what(),
                },
            );
        }
        true
    }

    /// Ends the windows that are over: a summary for each that suppressed lines.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        let window = self.window;
        self.windows.retain(|_, w| {
            if now.duration_since(w.start) < window {
                return true;
            }
            if w.suppressed > 0 {
                out.push(Summary {
                    what: std::mem::take(&mut w.what),
                    count: w.suppressed,
                });
            }
            false
        });
        out
    }
}

type Key = (Identifier, Option<String>);

/// The `event` field of an event.
struct EventField(Option<String>);

impl Visit for EventField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "event" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The global filter layer.
#[derive(Clone)]
pub(crate) struct RateLimitLayer {
    limiter: Arc<Mutex<Limiter<Key>>>,
}

impl RateLimitLayer {
    pub(crate) fn new(burst: u32, window: Duration) -> RateLimitLayer {
        RateLimitLayer {
            limiter: Arc::new(Mutex::new(Limiter::new(burst, window))),
        }
    }

    /// Summaries of the windows over at `now`.
    pub(crate) fn expire(&self, now: Instant) -> Vec<Summary> {
        self.limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expire(now)
    }

    /// Starts the thread that logs the summaries.
    pub(crate) fn spawn_reporter(&self) {
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("log-limit".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1));
                for s in me.expire(Instant::now()) {
                    log_summary(&s);
                }
            });
    }
}

/// The summary line.
pub(crate) fn log_summary(s: &Summary) {
    tracing::warn!(
        target: SUMMARY_TARGET,
        event = "lines-suppressed",
        suppressed = s.count,
        what = %s.what,
        "{} similar log lines suppressed ({}; at most {BURST} per {} s are written)",
        s.count,
        s.what,
        WINDOW.as_secs()
    );
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for RateLimitLayer {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() > Level::INFO || meta.target() == SUMMARY_TARGET {
            return true;
        }
        let mut ev = EventField(None);
        event.record(&mut ev);
        let name = ev.0;
        let key = (meta.callsite(), name.clone());
        let what = || {
            let at = format!(
                "{}:{}",
                meta.file().unwrap_or(meta.target()),
                meta.line().unwrap_or(0)
            );
            match &name {
                Some(e) => format!("{at} event={e}"),
                None => at,
            }
        };
        self.limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(Instant::now(), key, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the events that reach the output.
    struct Count(Arc<AtomicUsize>);
    impl<S: Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(&self, _e: &Event<'_>, _c: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_flood_is_cut_to_the_burst_per_kind() {
        let n = Arc::new(AtomicUsize::new(0));
        let limit = RateLimitLayer::new(BURST, Duration::from_secs(3600));
        let sub = tracing_subscriber::registry()
            .with(limit.clone())
            .with(Count(n.clone()));
        tracing::subscriber::with_default(sub, || {
            for i in 0..10_000 {
                for ev in ["joiner-seen", "joiner-handshake-failed"] {
                    tracing::info!(event = ev, joiner_id = %i, "joiner");
                }
                tracing::warn!("accept failed");
            }
            // Another kind is not held back by the flood, and debug is never limited.
            tracing::info!(event = "network-up", "network up");
            for _ in 0..100 {
                tracing::debug!("detail");
            }
        });
        assert_eq!(n.load(Ordering::Relaxed), 3 * BURST as usize + 1 + 100);
        // Once the window is over: one summary per kind with what was suppressed.
        let mut s = limit.expire(Instant::now() + Duration::from_secs(3600));
        s.sort_by(|a, b| a.what.cmp(&b.what));
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s.iter().all(|s| s.count == 10_000 - u64::from(BURST)));
        assert!(s.iter().any(|s| s.what.ends_with("event=joiner-seen")));
        assert!(s.iter().any(|s| s.what.contains("limit.rs:")));
    }

    #[test]
    fn windows_restart_and_summaries_are_counted() {
        let mut l: Limiter<u8> = Limiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        let pass: Vec<bool> = (0..5).map(|_| l.admit(t0, 1, || "k".into())).collect();
        assert_eq!(pass, [true, true, false, false, false]);
        assert_eq!(l.expire(t0 + Duration::from_secs(9)), vec![]);
        assert_eq!(
            l.expire(t0 + Duration::from_secs(10)),
            vec![Summary {
                what: "k".into(),
                count: 3
            }]
        );
        // A new window after the summary.
        assert!(l.admit(t0 + Duration::from_secs(11), 1, || "k".into()));
        assert_eq!(l.expire(t0 + Duration::from_secs(30)), vec![]);
    }
}
