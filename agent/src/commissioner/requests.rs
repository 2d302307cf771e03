//! Answers to the control requests the task serves (joiner table, status with the Border Agent's MGMT_COMMISSIONER_GET answer) and the co-processor reads they need.

use super::*;
use control::reply as typed;

/// A `commissioner.status` waiting for the answer to MGMT_COMMISSIONER_GET `request`.
pub(super) struct PendingStatus {
    pub(super) request: u32,
    pub(super) status: Value,
    pub(super) reply: Reply,
    pub(super) deadline: Instant,
}

/// A network diagnostic query ([`Service::diag_query`]): waiting for the petition (`request`
/// `None`, `deadline` the petition's) or collecting answers (`deadline` = sent + `wait`).
pub(super) struct PendingDiag {
    pub(super) wait: Duration,
    pub(super) request: Option<u64>,
    pub(super) answers: Vec<DiagAnswer>,
    pub(super) deadline: Instant,
    pub(super) reply: oneshot::Sender<Result<Vec<DiagAnswer>, MethodError>>,
}

/// The answers of a diagnostic query as JSON (`debug.diag_query`): `{"answers": [{"source",
/// "eui64", "ext_address", "rloc16" ("0x0401"), "mode"}, ...]}`, `null` for an absent field.
pub(crate) fn diag_answers_json(answers: &[DiagAnswer]) -> Value {
    let list: Vec<Value> = answers
        .iter()
        .map(|a| {
            json!({
                "source": a.source.to_string(),
                "eui64": a.eui64.map(hex::encode),
                "ext_address": a.ext_address.map(hex::encode),
                "rloc16": a.rloc16.map(|r| format!("0x{r:04x}")),
                "mode": a.mode,
            })
        })
        .collect();
    json!({ "answers": list })
}

pub(super) fn state_name(s: State) -> &'static str {
    match s {
        State::Idle => "idle",
        State::Connecting => "connecting",
        State::Petitioning => "petitioning",
        State::Active => "active",
        State::Resigning => "resigning",
        State::WaitingRetry => "waiting-retry",
    }
}

pub(super) fn unavailable(what: &str, e: impl std::fmt::Display) -> MethodError {
    MethodError::new(code::NCP_UNAVAILABLE, format!("{what}: {e}"))
}

/// `joiner.add` refused: the audit log cannot be written.
pub(super) fn audit_unavailable(path: &std::path::Path, e: &std::io::Error) -> MethodError {
    tracing::error!(path = %path.display(), error = %e, "joiner.add refused: cannot write the audit log");
    MethodError::new(
        code::AUDIT_UNAVAILABLE,
        format!(
            "not admitted: the audit log {} cannot be written ({e}); fix the state directory",
            path.display()
        ),
    )
}

/// Credentials for the state machine, read from the co-processor.
pub(super) struct Credentials {
    pub(super) pskc: Pskc,
    pub(super) mesh_local_prefix: [u8; 8],
}

/// Reads the PSKc (or the override) and mesh-local prefix from the active dataset.
pub(super) async fn read_credentials(
    net: Arc<Network>,
    pskc_override: Option<Pskc>,
) -> Result<Credentials, MethodError> {
    let tlvs = Zeroizing::new(
        net.client
            .get(prop::THREAD_ACTIVE_DATASET_TLVS)
            .await
            .map_err(|e| unavailable("reading the active dataset", e))?,
    );
    if tlvs.is_empty() {
        return Err(MethodError::new(
            code::NCP_UNAVAILABLE,
            "the co-processor has no active dataset yet",
        ));
    }
    let ds = Dataset::decode(&tlvs).map_err(|e| unavailable("decoding the active dataset", e))?;
    let pskc = match (pskc_override, ds.pskc.clone()) {
        (Some(o), _) => o,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the active dataset has no PSKc",
            ))
        }
    };
    let mesh_local_prefix = ds.mesh_local_prefix.ok_or_else(|| {
        MethodError::new(
            code::NCP_UNAVAILABLE,
            "the active dataset has no mesh-local prefix",
        )
    })?;
    Ok(Credentials {
        pskc,
        mesh_local_prefix,
    })
}

/// Reads the Border Agent's state: (active, port).
pub(super) async fn read_border_agent(net: Arc<Network>) -> Result<(bool, u16), MethodError> {
    let v = net
        .client
        .get(prop::BORDER_AGENT_MESHCOP_SERVICE_STATE)
        .await
        .map_err(|e| unavailable("reading BORDER_AGENT_MESHCOP_SERVICE_STATE", e))?;
    let s = decode_border_agent_state(&v)
        .map_err(|e| unavailable("decoding the border agent state", e))?;
    Ok((s.active, s.port))
}

/// Merges the Border Agent's MGMT_COMMISSIONER_GET answer into `status.border_agent`:
/// `session_id`, `border_agent_locator` (`0x....`), `steering_data` (hex), `joiner_udp_port`,
/// `other_tlvs` (`[{"type":n,"value":"hex"}]`) for what is present, or `get_error`.
pub(super) fn insert_ba_answer(status: &mut Value, answer: Result<&CommissionerDataset, String>) {
    let Some(root) = status.as_object_mut() else {
        return;
    };
    let ba = root.entry("border_agent").or_insert_with(|| json!({}));
    if !ba.is_object() {
        *ba = json!({});
    }
    let Some(m) = ba.as_object_mut() else { return };
    match answer {
        Ok(d) => {
            if let Some(x) = d.session_id {
                m.insert("session_id".into(), json!(x));
            }
            if let Some(x) = d.border_agent_locator {
                m.insert("border_agent_locator".into(), json!(format!("0x{x:04x}")));
            }
            if let Some(x) = &d.steering_data {
                m.insert("steering_data".into(), json!(hex::encode(x)));
            }
            if let Some(x) = d.joiner_udp_port {
                m.insert("joiner_udp_port".into(), json!(x));
            }
            if !d.other.is_empty() {
                let other: Vec<Value> = d
                    .other
                    .iter()
                    .map(|t| json!({"type": t.typ, "value": hex::encode(&t.value)}))
                    .collect();
                m.insert("other_tlvs".into(), json!(other));
            }
        }
        Err(e) => {
            m.insert("get_error".into(), json!(e));
        }
    }
}

/// The Commissioning Data the leader publishes in its network data: the active
/// commissioner's session ID, Border Agent locator and steering data. This is what the leader
/// (and hence a Border Agent answering MGMT_COMMISSIONER_GET) reports.
pub(super) fn leader_commissioning(netdata: &[u8]) -> Value {
    let Some(cd) = meshcop::netdata::commissioning_data(netdata) else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    if let Ok(d) = CommissionerDataset::parse(cd) {
        if let Some(id) = d.session_id {
            out.insert("session_id".into(), json!(id));
        }
        if let Some(x) = d.border_agent_locator {
            out.insert("border_agent_locator".into(), json!(format!("0x{x:04x}")));
        }
        if let Some(s) = d.steering_data {
            out.insert("steering_data".into(), json!(hex::encode(s)));
        }
        if let Some(port) = d.joiner_udp_port {
            out.insert("joiner_udp_port".into(), json!(port));
        }
    }
    Value::Object(out)
}

impl Task {
    pub(super) async fn command(&mut self, c: Cmd) {
        match c {
            Cmd::Add {
                kind,
                pskd,
                timeout,
                reply,
            } => {
                let r = self.add(kind, pskd, timeout).await;
                let _ = reply.send(r);
            }
            Cmd::Import {
                entries,
                timeout,
                signer,
                reply,
            } => {
                let r = self.import(entries, timeout, signer).await;
                let _ = reply.send(r);
            }
            Cmd::List(reply) => {
                let _ = reply.send(Ok(self.list()));
            }
            Cmd::Remove(kind, reply) => {
                let removed = self
                    .comm
                    .as_mut()
                    .is_some_and(|c| c.remove(Instant::now(), &kind));
                let r = if removed {
                    Ok(typed::to_result(&typed::Removed {
                        removed: events::entry_text(&kind),
                    }))
                } else {
                    Err(MethodError::new(
                        code::NOT_FOUND,
                        format!("no joiner entry {}", events::entry_text(&kind)),
                    ))
                };
                let _ = reply.send(r);
            }
            Cmd::Status(reply) => self.status_with_ba_answer(reply).await,
            Cmd::Start(reply) => {
                self.manual = true;
                self.suspended = false;
                let other = self.other_commissioner().await;
                let r = match other {
                    // Wanted now: the state machine's steady retries take over later.
                    Some(o) => Err(self.busy(&o)),
                    None => self.start_now().await,
                };
                let r = match r {
                    Ok(()) => Ok(self.status().await),
                    Err(e) => {
                        // Stays wanted: the next tick retries.
                        Err(e)
                    }
                };
                let _ = reply.send(r);
            }
            Cmd::Stop(reply) => {
                self.manual = false;
                self.suspended = true;
                if let Some(c) = self.comm.as_mut() {
                    if c.state() != State::Idle {
                        tracing::info!(reason = "operator", "commissioner stopping");
                        c.stop(Instant::now());
                    }
                }
                let state = self.comm.as_ref().map_or("idle", |c| state_name(c.state()));
                let _ = reply.send(Ok(typed::to_result(&typed::Stopped {
                    state: state.to_string(),
                })));
            }
            Cmd::CredentialsChanged => self.on_credentials_changed(),
            Cmd::DiagQuery { wait, reply } => self.diag_query(wait, reply).await,
            Cmd::ArmReset(on, reply) => {
                tracing::warn!(on = %on, "debug.reset_ncp: co-processor reset armed (test method)");
                self.reset_on = Some(on.clone());
                let _ = reply.send(Ok(typed::to_result(&typed::Armed { armed: on })));
            }
            Cmd::Shutdown(tx) => {
                if self.net.client.is_closed() {
                    // The link is gone: nothing to resign through.
                    let _ = tx.send(());
                    return;
                }
                self.shutdown = Some(tx);
                self.shutdown_deadline = Some(Instant::now() + SHUTDOWN_TIMEOUT);
                if let Some(c) = self.comm.as_mut() {
                    if c.state() != State::Idle {
                        tracing::info!("shutting down: resigning the commissioner session");
                        c.stop(Instant::now());
                    }
                }
            }
        }
        if self.shutdown.is_none() {
            self.reconcile().await;
        }
    }

    pub(super) async fn add(
        &mut self,
        kind: JoinerKind,
        pskd: Pskd,
        timeout: Option<Duration>,
    ) -> Result<Value, MethodError> {
        // An admission that cannot be audited is refused (issue 10 "fails open").
        self.audit
            .check()
            .map_err(|e| audit_unavailable(self.audit.path(), &e))?;
        self.ensure_comm().await?;
        if let Some(o) = self.other_commissioner().await {
            return Err(self.busy(&o));
        }
        let timeout = timeout.unwrap_or(self.settings.joiner_timeout);
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            return Err(gone());
        };
        let replaced = c.list().iter().any(|e| e.kind == kind);
        if let JoinerKind::Eui64(e) = kind {
            // A plain add: whatever file this EUI-64 came from before no longer applies.
            service::lock(&self.saved).origins.set(e, None);
        }
        c.add(
            now,
            JoinerEntry {
                kind,
                pskd,
                expires_at: now + timeout,
            },
        )
        .map_err(|e| MethodError::new(code::INVALID_PARAMS, e.to_string()))?;
        self.suspended = false;
        let mut m = serde_json::Map::new();
        events::insert_entry(&kind, &service::lock(&self.saved).origins, &mut m);
        m.insert("timeout".into(), json!(timeout.as_secs()));
        m.insert("replaced".into(), json!(replaced));
        m.insert("type".into(), json!(EventKind::EntryAdded.as_str()));
        let d = events::Described {
            text: format!(
                "joiner entry {} {} (expires in {} s)",
                events::entry_text(&kind),
                if replaced { "replaced" } else { "added" },
                timeout.as_secs()
            ),
            value: Value::Object(m.clone()),
            level: tracing::Level::INFO,
            audit: true,
        };
        // Audited or undone: the entry only stays if its line is written.
        if let Err(e) = self
            .audit
            .try_record(EventKind::EntryAdded.as_str(), &d.value)
        {
            if let Some(c) = self.comm.as_mut() {
                c.remove(now, &kind);
            }
            return Err(audit_unavailable(self.audit.path(), &e));
        }
        events::log(&d);
        let _ = self.events.send(d.value.clone());
        m.remove("type");
        m.insert(
            "commissioner".into(),
            json!(self.comm.as_ref().map_or("idle", |c| state_name(c.state()))),
        );
        Ok(Value::Object(m))
    }

    /// `joiner.import`: every entry of a parsed, verified bootstrapping file, or none. Refused
    /// before any change when the audit log cannot be written or the table has no room for them
    /// all; the `entries-imported` audit record is written before the entries go in.
    pub(super) async fn import(
        &mut self,
        entries: Vec<control::bootstrap::Entry>,
        timeout: Option<Duration>,
        signer: Option<String>,
    ) -> Result<Value, MethodError> {
        self.audit
            .check()
            .map_err(|e| audit_unavailable(self.audit.path(), &e))?;
        self.ensure_comm().await?;
        if let Some(o) = self.other_commissioner().await {
            return Err(self.busy(&o));
        }
        let timeout = timeout.unwrap_or(self.settings.joiner_timeout);
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            return Err(gone());
        };
        let listed: Vec<JoinerKind> = c.list().into_iter().map(|e| e.kind).collect();
        let kinds: Vec<JoinerKind> = entries.iter().map(|e| JoinerKind::Eui64(e.eui64)).collect();
        let new = kinds.iter().filter(|k| !listed.contains(k)).count();
        let max = c.config().max_entries;
        if listed.len() + new > max {
            return Err(MethodError::new(
                code::INVALID_PARAMS,
                format!(
                    "nothing imported: the joiner table holds {} of {max} entries, the file adds {new} more",
                    listed.len()
                ),
            ));
        }
        let labels: Vec<Value> = entries.iter().map(|e| json!(e.label)).collect();
        let record = json!({
            "count": entries.len(),
            "entries": kinds.iter().map(events::entry_text).collect::<Vec<_>>(),
            "labels": labels,
            "signer": signer,
            "timeout": timeout.as_secs(),
        });
        // Audited or refused: nothing goes in unless the import's record is written.
        self.audit
            .try_record(EventKind::EntriesImported.as_str(), &record)
            .map_err(|e| audit_unavailable(self.audit.path(), &e))?;
        let mut added: Vec<JoinerKind> = Vec::with_capacity(entries.len());
        for e in &entries {
            let kind = JoinerKind::Eui64(e.eui64);
            let entry = JoinerEntry {
                kind,
                pskd: e.pskd.clone(),
                expires_at: now + timeout,
            };
            if let Err(err) = c.add(now, entry) {
                // Cannot happen after the room check; undo the new ones all the same.
                for k in added.iter().filter(|k| !listed.contains(k)) {
                    c.remove(now, k);
                }
                return Err(MethodError::new(
                    code::INVALID_PARAMS,
                    format!("nothing imported: {err}"),
                ));
            }
            added.push(kind);
        }
        self.suspended = false;
        let out =
            self.publish_imported(entries, &listed, timeout, now + timeout, signer.as_deref());
        let text = format!(
            "{} joiner entries imported from a bootstrapping file ({})",
            out.len(),
            signer
                .as_deref()
                .map_or("unsigned".to_string(), |s| format!("signed by {s}"))
        );
        let mut ev = record.as_object().cloned().unwrap_or_default();
        ev.insert("type".into(), json!(EventKind::EntriesImported.as_str()));
        let d = events::Described {
            value: Value::Object(ev),
            text,
            level: tracing::Level::INFO,
            audit: false, // recorded above, before the entries went in
        };
        events::log(&d);
        let _ = self.events.send(d.value);
        Ok(json!({
            "imported": out.len(),
            "entries": out,
            "signer": signer,
            "timeout": timeout.as_secs(),
            "commissioner": self.comm.as_ref().map_or("idle", |c| state_name(c.state())),
        }))
    }

    /// The `entry-added` events (with label and signer) and saved copies of imported entries;
    /// the reply's entry list.
    fn publish_imported(
        &mut self,
        entries: Vec<control::bootstrap::Entry>,
        listed: &[JoinerKind],
        timeout: Duration,
        expires_at: Instant,
        signer: Option<&str>,
    ) -> Vec<Value> {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let kind = JoinerKind::Eui64(e.eui64);
            let origin = events::Origin {
                label: e.label.clone(),
                signer: signer.map(str::to_string),
            };
            let replaced = listed.contains(&kind);
            let mut m = serde_json::Map::new();
            {
                let mut saved = service::lock(&self.saved);
                saved.origins.set(e.eui64, Some(origin));
                events::insert_entry(&kind, &saved.origins, &mut m);
            }
            m.insert("timeout".into(), json!(timeout.as_secs()));
            m.insert("replaced".into(), json!(replaced));
            m.insert("imported".into(), json!(true));
            m.insert("type".into(), json!(EventKind::EntryAdded.as_str()));
            self.emit(&events::Described {
                text: format!(
                    "joiner entry {} {} from a bootstrapping file (expires in {} s)",
                    events::entry_text(&kind),
                    if replaced { "replaced" } else { "added" },
                    timeout.as_secs()
                ),
                value: Value::Object(m.clone()),
                level: tracing::Level::INFO,
                audit: true,
            });
            self.save_entry(JoinerEntry {
                kind,
                pskd: e.pskd,
                expires_at,
            });
            out.push(json!({
                "entry": m.get("entry"),
                "eui64": m.get("eui64"),
                "joiner_id": m.get("joiner_id"),
                "label": e.label,
            }));
        }
        out
    }

    pub(super) fn list(&self) -> Value {
        let now = Instant::now();
        let saved = service::lock(&self.saved);
        let origins = &saved.origins;
        let entries: Vec<Value> = self
            .comm
            .as_ref()
            .map(|c| c.list())
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let mut m = serde_json::Map::new();
                events::insert_entry(&e.kind, origins, &mut m);
                m.insert(
                    "kind".into(),
                    json!(match e.kind {
                        JoinerKind::Eui64(_) => "eui64",
                        JoinerKind::Discerner(_) => "discerner",
                        JoinerKind::Any => "any",
                    }),
                );
                if let JoinerKind::Discerner(d) = e.kind {
                    m.insert(
                        "discerner".into(),
                        json!(format!("{:#x}/{}", d.value(), d.bits())),
                    );
                }
                m.insert(
                    "expires_in".into(),
                    json!(e.expires_at.saturating_duration_since(now).as_secs()),
                );
                // Its joiner was entrusted: it lingers (for a retry) until `expires_in`.
                m.insert("joined".into(), json!(e.joined));
                Value::Object(m)
            })
            .collect();
        json!({ "joiners": entries })
    }

    /// `commissioner.status`: [`Task::status`], plus, while the Border Agent session is up, the
    /// Border Agent's answer to MGMT_COMMISSIONER_GET merged into `border_agent` (the reply is
    /// sent when it arrives, or after [`STATUS_GET_TIMEOUT`] with `border_agent.get_error`).
    pub(super) async fn status_with_ba_answer(&mut self, reply: Reply) {
        let mut status = self.status().await;
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            let _ = reply.send(Ok(status));
            return;
        };
        if c.state() != State::Active {
            let _ = reply.send(Ok(status));
            return;
        }
        let request = match c.commissioner_get(now, &[]) {
            Ok(id) => id,
            // Join the newest request in flight.
            Err(CommError::TooManyRequests { .. }) if !self.pending_status.is_empty() => {
                self.pending_status[self.pending_status.len() - 1].request
            }
            Err(e) => {
                insert_ba_answer(&mut status, Err(e.to_string()));
                let _ = reply.send(Ok(status));
                return;
            }
        };
        self.pending_status.push(PendingStatus {
            request,
            status,
            reply,
            deadline: now + STATUS_GET_TIMEOUT,
        });
    }

    /// Completes the status calls waiting for `request`.
    pub(super) fn answer_status(
        &mut self,
        request: u32,
        answer: Result<&CommissionerDataset, String>,
    ) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_status)
            .into_iter()
            .partition(|p| p.request == request);
        self.pending_status = rest;
        for mut p in done {
            insert_ba_answer(&mut p.status, answer.clone());
            let _ = p.reply.send(Ok(p.status));
        }
    }

    /// Completes the status calls whose answer is overdue.
    pub(super) fn expire_status(&mut self, now: Instant) {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_status)
            .into_iter()
            .partition(|p| now >= p.deadline);
        self.pending_status = rest;
        for mut p in done {
            insert_ba_answer(
                &mut p.status,
                Err(format!(
                    "no MGMT_COMMISSIONER_GET answer within {} s",
                    STATUS_GET_TIMEOUT.as_secs()
                )),
            );
            let _ = p.reply.send(Ok(p.status));
        }
    }

    pub(super) async fn status(&mut self) -> Value {
        let (state, session_id, (sessions, waiting), entries, steering, acked, stats) =
            match &self.comm {
                Some(c) => (
                    state_name(c.state()),
                    c.session_id(),
                    (c.joiner_sessions(), c.waiting_joiners()),
                    c.list().len(),
                    Some(hex::encode(c.steering_data().as_bytes())),
                    c.steering_data_acked().map(|s| hex::encode(s.as_bytes())),
                    Some(c.stats().clone()),
                ),
                None => ("idle", None, (0, 0), 0, None, None, None),
            };
        let ba = match self.border_agent().await {
            Ok((active, port)) => json!({"active": active, "port": port}),
            Err(e) => json!({"error": e.message}),
        };
        let leader = match self.net.client.get(prop::THREAD_LEADER_NETWORK_DATA).await {
            Ok(nd) => leader_commissioning(&nd),
            Err(e) => json!({"error": e.to_string()}),
        };
        json!({
            "state": state,
            "session_id": session_id,
            "commissioner_id": self.settings.id,
            "always_on": self.settings.always_on,
            "started_by_operator": self.manual && !self.settings.always_on,
            "suspended": self.suspended,
            "border_agent": ba,
            "entries": entries,
            "joiner_sessions": sessions,
            "waiting_joiners": waiting,
            "steering_data": steering,
            "steering_data_acked": acked,
            "joined": stats.as_ref().map(|s| s.joined),
            "dropped": stats.as_ref().map(|s| s.dropped),
            "unknown_joiners": stats.as_ref().map(|s| s.unknown_joiners),
            "joiner_handshakes": stats.as_ref().map(|s| s.joiner_handshakes),
            "refused_handshakes": stats.as_ref().map(|s| s.refused_handshakes),
            "suppressed_events": stats.as_ref().map(|s| s.suppressed_events),
            "last_error": self.last_start_error,
            "other_commissioner": self.other_commissioner().await,
            "leader": leader,
        })
    }
}

impl Task {
    /// A diagnostic query from [`Service::diag_query`]: refused at once when the operator stopped
    /// the commissioner or the Border Agent cannot be reached; else it waits for the petition
    /// (the session is wanted meanwhile: [`Task::wanted`]) and goes out in [`Task::diag_step`].
    pub(super) async fn diag_query(
        &mut self,
        wait: Duration,
        reply: oneshot::Sender<Result<Vec<DiagAnswer>, MethodError>>,
    ) {
        if self.suspended {
            let _ = reply.send(Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the commissioner was stopped by the operator (commissioner.start first)",
            )));
            return;
        }
        let active = self.comm.as_ref().map(Commissioner::state) == Some(State::Active);
        if !active {
            if let Err(e) = self.start_now().await {
                let _ = reply.send(Err(e));
                return;
            }
        }
        self.pending_diag.push(PendingDiag {
            wait,
            request: None,
            answers: Vec::new(),
            deadline: Instant::now() + DIAG_PETITION_TIMEOUT,
            reply,
        });
        self.diag_step(Instant::now());
    }

    /// Sends the query of the diagnostic calls waiting for the petition once it is active (one
    /// query for all of them), and answers the calls whose time is up.
    pub(super) fn diag_step(&mut self, now: Instant) {
        if self.pending_diag.is_empty() {
            return;
        }
        if self.pending_diag.iter().any(|p| p.request.is_none()) {
            if let Some(Ok(id)) = self
                .comm
                .as_mut()
                .filter(|c| c.state() == State::Active)
                .map(|c| c.diag_query(now))
            {
                tracing::info!(request = id, "network diagnostic query sent to ff03::1");
                for p in self.pending_diag.iter_mut().filter(|p| p.request.is_none()) {
                    p.request = Some(id);
                    p.deadline = now + p.wait;
                }
            }
        }
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_diag)
            .into_iter()
            .partition(|p| now >= p.deadline);
        self.pending_diag = rest;
        for p in done {
            let r = match p.request {
                Some(_) => Ok(p.answers),
                None => Err(MethodError::new(
                    code::NCP_UNAVAILABLE,
                    format!(
                        "the petition was not accepted within {} s (another commissioner active?)",
                        DIAG_PETITION_TIMEOUT.as_secs()
                    ),
                )),
            };
            let _ = p.reply.send(r);
        }
    }

    /// A node's answer to diagnostic query `request`: merged into the calls collecting it, one
    /// entry per source address.
    pub(super) fn diag_answer(&mut self, request: u64, answer: DiagAnswer) {
        for p in self
            .pending_diag
            .iter_mut()
            .filter(|p| p.request == Some(request))
        {
            match p.answers.iter_mut().find(|a| a.source == answer.source) {
                Some(a) => a.merge(&answer),
                None => p.answers.push(answer.clone()),
            }
        }
    }
}
