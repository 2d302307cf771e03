//! Publishing the state machine's events (log, audit, subscribers) and matching an entrusted joiner to the neighbour that attaches after it.

use super::*;

pub(super) struct PendingAttach {
    pub(super) fields: serde_json::Map<String, Value>,
    pub(super) entrusted_at: Instant,
}

impl Task {
    pub(super) fn emit(&self, d: &events::Described) {
        // Audit first: whoever sees the log line finds the audit record already written.
        if d.audit {
            let t = d.value.get("type").and_then(Value::as_str).unwrap_or("");
            self.audit.record(t, &d.value);
        }
        // Then the recorder (the device inventory): on disk before anyone sees the event.
        let recorder = service::lock(&self.saved).recorder.clone();
        if let Some(r) = recorder {
            r(&d.value);
        }
        events::log(d);
        let _ = self.events.send(d.value.clone());
    }

    pub(super) async fn publish_event(&mut self, ev: Event) {
        let d = events::describe(&ev, &service::lock(&self.saved).origins);
        self.emit(&d);
        if self.reset_on.is_some()
            && d.value.get("type").and_then(Value::as_str) == self.reset_on.as_deref()
        {
            self.reset_on = None;
            tracing::warn!(after = ?d.value.get("type"), "debug.reset_ncp: resetting the co-processor now (armed test trigger)");
            match self.net.client.reset().await {
                // The co-processor has reset when this returns: drop the session now, so that a
                // relayed datagram it sent just before the reset (still queued here) cannot
                // finish the interrupted joiner session. The Reset event that follows is a no-op.
                Ok(()) => self.on_reset(),
                Err(e) => tracing::warn!(error = %e, "debug.reset_ncp: reset failed"),
            }
        }
        if let Event::JoinerEntrusted { .. } = ev {
            if self.pending_attach.is_empty() {
                self.snapshot_neighbors().await;
            }
            if let Value::Object(m) = d.value {
                self.pending_attach.push_back(PendingAttach {
                    fields: m,
                    entrusted_at: Instant::now(),
                });
            }
            self.next_attach_poll = Some(Instant::now() + ATTACH_POLL);
        }
    }

    pub(super) async fn snapshot_neighbors(&mut self) {
        if let Ok(n) = self.net.neighbors().await {
            self.known_neighbors = n.into_iter().map(|n| n.ext_address).collect();
        }
    }

    pub(super) async fn housekeeping(&mut self) {
        self.restore().await;
        let now = Instant::now();
        // Joined-device matching.
        if self.next_attach_poll.is_some_and(|t| now >= t) {
            self.next_attach_poll = None;
            self.pending_attach
                .retain(|p| now.duration_since(p.entrusted_at) < ATTACH_WINDOW);
            if !self.pending_attach.is_empty() {
                if let Ok(table) = self.net.neighbors().await {
                    for n in table {
                        if self.known_neighbors.insert(n.ext_address.clone()) {
                            if let Some(p) = self.pending_attach.pop_front() {
                                let mut m = p.fields;
                                m.insert("type".into(), json!(EventKind::JoinerJoined.as_str()));
                                m.insert("ext_address".into(), json!(n.ext_address));
                                m.insert("rloc16".into(), json!(n.rloc16));
                                m.insert("is_child".into(), json!(n.is_child));
                                m.insert("match".into(), json!("first-new-neighbor"));
                                m.insert("result".into(), json!("attached"));
                                m.insert(
                                    "seconds_after_entrust".into(),
                                    json!(now.duration_since(p.entrusted_at).as_secs()),
                                );
                                let text = format!(
                                    "joiner attached (best-effort match: first new neighbour {} after its entrust)",
                                    n.ext_address
                                );
                                self.emit(&events::Described {
                                    value: Value::Object(m),
                                    text,
                                    level: tracing::Level::INFO,
                                    audit: true,
                                });
                            }
                        }
                    }
                }
                if !self.pending_attach.is_empty() {
                    self.next_attach_poll = Some(now + ATTACH_POLL);
                }
            }
        }
        self.reconcile().await;
    }
}
