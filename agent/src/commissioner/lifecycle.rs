//! The commissioner task's life: its event loop, the co-processor's input (forward stream, resets), sending, and whether a commissioner session is wanted (start/stop, linger); the state machine itself decides when to (re)petition.

use super::*;

impl Task {
    /// The loop; returns at shutdown or when every handle is gone. The queues are borrowed so
    /// that they outlive a task that panics ([`service`]'s supervisor starts the next one).
    pub(super) async fn run(
        mut self,
        cmds: &mut mpsc::Receiver<Cmd>,
        input: &mut mpsc::Receiver<NcpInput>,
    ) {
        let mut input_open = true;
        if self.settings.always_on && !self.restore_pending {
            tracing::info!("[commissioner] always_on: petitioning once the border agent is active");
        }
        self.restore().await;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                c = cmds.recv() => match c {
                    None => return,
                    Some(c) => self.command_saved(c).await,
                },
                i = input.recv(), if input_open => match i {
                    None => input_open = false,
                    Some(NcpInput::Forwarded(f)) => self.forwarded(f),
                    Some(NcpInput::Reset) => self.on_reset(),
                    Some(NcpInput::LeaderData(nd)) => self.on_leader_data(&nd),
                    #[cfg(test)]
                    Some(NcpInput::Panic) => panic!("test hook: the commissioner task panics"),
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    let now = Instant::now();
                    if let Some(c) = self.comm.as_mut() {
                        if c.poll_timeout().is_some_and(|t| t <= now) {
                            c.handle_timeout(now);
                        }
                    }
                    self.expire_status(now);
                    self.housekeeping().await;
                }
            }
            self.diag_step(Instant::now());
            self.drain().await;
            self.save();
            if self.shutdown.is_some() {
                let idle = self.comm.as_ref().is_none_or(|c| c.state() == State::Idle);
                if idle || self.shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
                    if let Some(tx) = self.shutdown.take() {
                        let _ = tx.send(());
                    }
                    return;
                }
            }
        }
    }

    /// [`Task::command`], then an added entry (with its PSKd) goes into the saved table.
    async fn command_saved(&mut self, c: Cmd) {
        let added = match &c {
            Cmd::Add { kind, pskd, .. } => Some((*kind, pskd.clone())),
            _ => None,
        };
        self.command(c).await;
        let Some((kind, pskd)) = added else { return };
        let listed = self
            .comm
            .as_ref()
            .and_then(|c| c.list().into_iter().find(|e| e.kind == kind));
        if let Some(e) = listed {
            self.save_entry(JoinerEntry {
                kind,
                pskd,
                expires_at: e.expires_at,
            });
        }
    }

    pub(super) fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut t = now + TICK;
        if let Some(c) = self.comm.as_ref().and_then(Commissioner::poll_timeout) {
            t = t.min(c.max(now));
        }
        if let Some(d) = self.shutdown_deadline {
            t = t.min(d.max(now));
        }
        for p in &self.pending_status {
            t = t.min(p.deadline.max(now));
        }
        for p in &self.pending_diag {
            t = t.min(p.deadline.max(now));
        }
        t
    }

    pub(super) fn forwarded(&mut self, f: Forwarded) {
        if f.peer_addr != PEER_ADDR || f.peer_port != PEER_PORT {
            tracing::trace!(peer = %f.peer_addr, port = f.peer_port, "UDP forward datagram for another peer ignored");
            return;
        }
        if let Some(c) = self.comm.as_mut() {
            c.handle_datagram(Instant::now(), &f.payload);
        }
    }

    /// The co-processor reset: tells the state machine its Border Agent is gone; it decides when
    /// to petition again (once [`Task::start_now`] reports the port).
    pub(super) fn on_reset(&mut self) {
        if let Some(c) = self.comm.as_mut() {
            if c.state() != State::Idle {
                tracing::warn!("co-processor reset: commissioner session lost; petitioning again once the border agent is back");
            }
            c.set_border_agent(Instant::now(), None);
        }
    }

    /// The PSKc, extended PAN ID or mesh-local prefix of the active dataset changed (a key
    /// rotation with a new PSKc, an import): the session made with the old credentials ends
    /// (resigned when active) and [`Task::reconcile`] petitions again, reading the new ones.
    /// The joiner table stays.
    pub(super) fn on_credentials_changed(&mut self) {
        let Some(c) = self.comm.as_mut() else { return };
        let now = Instant::now();
        match c.state() {
            State::Idle => {}
            State::Active => {
                tracing::info!("commissioning credentials changed: resigning, then petitioning again with the new PSKc");
                c.stop(now);
            }
            _ => {
                tracing::info!(
                    "commissioning credentials changed: petitioning again with the new PSKc"
                );
                c.set_border_agent(now, None);
            }
        }
    }

    /// Sends pending datagrams and publishes pending events.
    pub(super) async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(d) = self.comm.as_mut().and_then(Commissioner::poll_transmit) {
                progressed = true;
                match self.comm.as_ref().and_then(Commissioner::border_agent_port) {
                    Some(port) => {
                        let v = encode_forward(&d, PEER_PORT, &PEER_ADDR, port);
                        if let Err(e) = self
                            .net
                            .client
                            .send_nowait(cmd::SET, prop::THREAD_UDP_FORWARD_STREAM, &v)
                            .await
                        {
                            tracing::debug!(error = %e, "cannot send to the border agent");
                        }
                    }
                    None => tracing::debug!("border agent port unknown; datagram dropped"),
                }
            }
            while let Some(ev) = self.comm.as_mut().and_then(Commissioner::poll_event) {
                progressed = true;
                if let Event::PetitionAccepted { session_id } = ev {
                    self.last_session = Some(session_id);
                }
                match ev {
                    // Query answers, not state changes: they go to the waiting status calls.
                    Event::CommissionerDataset { request, dataset } => {
                        tracing::debug!(request, ?dataset, "MGMT_COMMISSIONER_GET answered");
                        self.answer_status(request, Ok(&dataset));
                    }
                    Event::CommissionerGetFailed { request, reason } => {
                        tracing::debug!(request, %reason, "MGMT_COMMISSIONER_GET failed");
                        self.answer_status(request, Err(reason));
                    }
                    ev => self.publish_event(ev).await,
                }
            }
            while let Some((request, answer)) =
                self.comm.as_mut().and_then(Commissioner::poll_diag_answer)
            {
                progressed = true;
                self.diag_answer(request, answer);
            }
            if !progressed {
                return;
            }
        }
    }

    /// Whether the commissioner should be petitioning/active now.
    pub(super) fn wanted(&self) -> bool {
        if self.suspended || self.shutdown.is_some() {
            return false;
        }
        let busy = self
            .comm
            .as_ref()
            .is_some_and(|c| !c.list().is_empty() || c.joiner_sessions() > 0);
        self.manual || busy || !self.pending_diag.is_empty()
    }

    /// Starts or stops the state machine to match [`Task::wanted`].
    pub(super) async fn reconcile(&mut self) {
        let now = Instant::now();
        let wanted = self.wanted();
        let table_busy = self
            .comm
            .as_ref()
            .is_some_and(|c| !c.list().is_empty() || c.joiner_sessions() > 0);
        if table_busy || self.manual || !self.pending_diag.is_empty() {
            self.empty_since = None;
        } else if self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
        let state = self.comm.as_ref().map(Commissioner::state);
        if wanted {
            // After a reset the state machine waits for the Border Agent's port: look it up.
            let need_start = match state {
                None | Some(State::Idle) => true,
                Some(_) => self
                    .comm
                    .as_ref()
                    .is_some_and(Commissioner::awaiting_border_agent),
            };
            if need_start {
                if let Err(e) = self.start_now().await {
                    if self.last_start_error.as_deref() != Some(&e.message) {
                        tracing::info!(reason = %e.message, "commissioner not started yet; will retry");
                        self.last_start_error = Some(e.message);
                    }
                }
            }
        } else if let Some(st) = state {
            let linger_over = self
                .empty_since
                .is_some_and(|t| now.duration_since(t) >= LINGER);
            let stop = match st {
                State::Idle | State::Resigning => false,
                State::Active => linger_over || self.suspended || self.shutdown.is_some(),
                _ => true,
            };
            if stop {
                tracing::info!(
                    reason = if self.shutdown.is_some() {
                        "shutdown"
                    } else if self.suspended {
                        "operator"
                    } else {
                        "joiner table empty"
                    },
                    "commissioner stopping"
                );
                if let Some(c) = self.comm.as_mut() {
                    c.stop(now);
                }
            }
        }
    }

    /// Reads the PSKc and mesh-local prefix from the active dataset.
    pub(super) async fn credentials(&mut self) -> Result<Credentials, MethodError> {
        read_credentials(self.net.clone(), self.settings.pskc_override.clone()).await
    }

    pub(super) async fn border_agent(&mut self) -> Result<(bool, u16), MethodError> {
        read_border_agent(self.net.clone()).await
    }

    /// Creates the state machine if needed (credentials from the co-processor).
    pub(super) async fn ensure_comm(&mut self) -> Result<(), MethodError> {
        if self.comm.is_some() {
            return Ok(());
        }
        let creds = self.credentials().await?;
        let mut config = Config::new(
            self.settings.id.clone(),
            creds.pskc,
            creds.mesh_local_prefix,
        );
        config.provisioning_url = self.settings.provisioning_url.clone();
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|e| {
            MethodError::new(
                code::INTERNAL_ERROR,
                format!("OS random source failed: {e}"),
            )
        })?;
        self.comm = Some(Commissioner::with_seed(config, *seed));
        Ok(())
    }

    /// Refreshes the Border Agent port and credentials, then starts a petition now.
    pub(super) async fn start_now(&mut self) -> Result<(), MethodError> {
        self.ensure_comm().await?;
        let (active, port) = self.border_agent().await?;
        if !active || port == 0 {
            return Err(MethodError::new(
                code::NCP_UNAVAILABLE,
                "the co-processor's border agent is not active (network not up yet?)",
            ));
        }
        let creds = self.credentials().await?;
        self.last_start_error = None;
        let now = Instant::now();
        let Some(c) = self.comm.as_mut() else {
            return Ok(());
        };
        c.set_credentials(creds.pskc, creds.mesh_local_prefix);
        let starting = matches!(c.state(), State::Idle | State::WaitingRetry);
        if starting {
            tracing::info!(border_agent_port = port, commissioner_id = %self.settings.id, "commissioner starting: petitioning the border agent");
        }
        // A session waiting for the port (after a reset) starts here; an idle one below.
        c.set_border_agent(now, Some(port));
        if starting {
            c.start(now);
        }
        Ok(())
    }
}
