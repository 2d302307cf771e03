//! Test-only: a minimal in-memory NCP (Spinel over HDLC on a `tokio::io::duplex` pipe) for the
//! agent's unit tests of form/resume/restore and reset recovery.
//!
//! It answers GET with the stored value (empty if unknown), SET by storing and echoing the value,
//! records every request, and behaves like the simulation NCP in the one way the agent relies on:
//! `NET_STACK_UP`=1 with an active dataset makes it leader (unsolicited `NET_ROLE`=3).
//! [`FakeNcp::reset`] forgets everything except what `keep_settings` says and sends the reset status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ncp::spinel::{cmd, prop, Command, Frame, Prop};
use ncp::{Client, ClientOptions, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) props: HashMap<u32, Vec<u8>>,
    pub(crate) requests: Vec<(Command, Prop)>,
}

pub(crate) struct FakeNcp {
    pub(crate) state: Arc<Mutex<State>>,
    inject: mpsc::UnboundedSender<Frame>,
    task: tokio::task::JoinHandle<()>,
}

fn frame_bytes(f: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    ncp::hdlc::encode(&f.encode(), &mut out);
    out
}

impl FakeNcp {
    /// Starts the fake and a client connected to it.
    pub(crate) fn start() -> (FakeNcp, Client, mpsc::Receiver<Event>) {
        let (host, dev) = tokio::io::duplex(64 * 1024);
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().unwrap();
            s.props.insert(prop::NET_ROLE.0, vec![4]);
            s.props.insert(prop::NET_NETWORK_NAME.0, b"Fake\0".to_vec());
            s.props.insert(prop::PHY_CHAN.0, vec![15]);
            s.props.insert(prop::MAC_15_4_PANID.0, vec![0xce, 0xfa]);
            s.props
                .insert(prop::NET_XPANID.0, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        }
        let (inject, mut injected) = mpsc::unbounded_channel::<Frame>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            let (mut rd, mut wr) = tokio::io::split(dev);
            let mut dec = ncp::hdlc::Decoder::new(4096);
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    n = rd.read(&mut buf) => {
                        let Ok(n) = n else { return };
                        if n == 0 { return }
                        for &b in &buf[..n] {
                            let Some(Ok(bytes)) = dec.push(b) else { continue };
                            let Ok(f) = Frame::parse(&bytes) else { continue };
                            let replies = handle(&st, f);
                            for r in replies {
                                if wr.write_all(&frame_bytes(&r)).await.is_err() { return }
                            }
                        }
                    }
                    f = injected.recv() => {
                        let Some(f) = f else { return };
                        if wr.write_all(&frame_bytes(&f)).await.is_err() { return }
                    }
                }
            }
        });
        let (client, events) = Client::with_transport(
            ncp::transport::Transport::Memory(host),
            "fake".into(),
            ClientOptions::default(),
        );
        (
            FakeNcp {
                state,
                inject,
                task,
            },
            client,
            events,
        )
    }

    /// The co-processor resets; if `keep_settings` is false it comes back blank.
    pub(crate) fn reset(&self, keep_settings: bool) {
        {
            let mut s = self.state.lock().unwrap();
            if !keep_settings {
                s.props.remove(&prop::THREAD_ACTIVE_DATASET_TLVS.0);
            }
            s.props.insert(prop::NET_ROLE.0, vec![4]);
            s.props.insert(prop::NET_STACK_UP.0, vec![0]);
        }
        let _ = self
            .inject
            .send(Frame::new(0, cmd::IS, prop::LAST_STATUS, vec![114]));
    }

    /// The co-processor goes away (unplugged): its end of the pipe closes.
    pub(crate) fn unplug(&self) {
        self.task.abort();
    }

    pub(crate) fn get(&self, p: Prop) -> Option<Vec<u8>> {
        self.state.lock().unwrap().props.get(&p.0).cloned()
    }

    pub(crate) fn set(&self, p: Prop, v: &[u8]) {
        self.state.lock().unwrap().props.insert(p.0, v.to_vec());
    }

    pub(crate) fn count(&self, c: Command, p: Prop) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(rc, rp)| *rc == c && *rp == p)
            .count()
    }
}

fn handle(st: &Mutex<State>, f: Frame) -> Vec<Frame> {
    let mut s = st.lock().unwrap();
    s.requests.push((f.command, f.prop));
    let mut out = Vec::new();
    if f.command == cmd::GET {
        let v = s.props.get(&f.prop.0).cloned().unwrap_or_default();
        out.push(Frame::new(f.tid, cmd::IS, f.prop, v));
    } else if f.command == cmd::SET {
        s.props.insert(f.prop.0, f.value.clone());
        out.push(Frame::new(f.tid, cmd::IS, f.prop, f.value.clone()));
        let has_dataset = s
            .props
            .get(&prop::THREAD_ACTIVE_DATASET_TLVS.0)
            .is_some_and(|d| !d.is_empty());
        if f.prop == prop::NET_STACK_UP && f.value == [1] && has_dataset {
            s.props.insert(prop::NET_ROLE.0, vec![3]);
            out.push(Frame::new(0, cmd::IS, prop::NET_ROLE, vec![3]));
        }
    } else {
        out.push(Frame::new(f.tid, cmd::IS, prop::LAST_STATUS, vec![2]));
    }
    out
}

/// A [`Network`](crate::network::Network) on `client` (a fake's or any test co-processor's), its
/// state in `dir`, named `name`, on channel 11: the set-up the service, monitor and liveness
/// tests share.
pub(crate) fn network(
    client: Client,
    dir: &std::path::Path,
    name: &str,
) -> Arc<crate::network::Network> {
    let info = ncp::NcpInfo {
        protocol: (4, 3),
        version: "fake".into(),
        interface_type: 3,
        caps: vec![],
        hwaddr: [0; 8],
    };
    Arc::new(crate::network::Network::new(
        client,
        info,
        crate::state::StateDir::new(dir),
        name.into(),
        11,
    ))
}
