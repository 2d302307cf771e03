//! The test bed for thread-agent's end-to-end tests: real `thread-agent` and `threadctl`
//! binaries against OpenThread simulation nodes (`ot-ncp-ftd`, `ot-rcp`, `ot-cli-ftd`) on the
//! loopback interface.
//!
//! * [`bins`]: builds/locates the simulation nodes and the workspace binaries.
//! * [`ports`]: one `PORT_OFFSET` per test (the simulated radio channel; formula there).
//! * [`sandbox`]: a test's temp dir, port lease and processes; kills everything on drop.
//! * [`cli`]: [`CliNode`], an `ot-cli-ftd` node driven through its CLI.
//! * [`agent`]: [`Agent`], the real agent on a simulated co-processor, and `threadctl`.
//! * [`dataset`]: an independent dataset TLV reader and a secret-leak scanner.
//! * [`network`]: a mesh around the agent (routers, children), long threadctl calls, the events
//!   tap and audit log, a second agent on the same radio (credential-lifecycle tests).
//! * [`serial`]: [`serial::SerialNcp`], the simulated co-processor behind a serial device that
//!   can be unplugged and plugged back in.
//! * [`proc`]: process plumbing (death signal, process groups, output capture, deadlines).
//!
//! Guarantees: tests using a [`Sandbox`] can run in parallel (threads of `cargo test` or
//! processes of `cargo nextest`) without hearing each other's radios, and leave no process behind
//! even when they panic. Every wait has a deadline, chosen generously: they bound a hang, they do
//! not measure speed.

pub mod agent;
pub mod bins;
pub mod cli;
pub mod dataset;
pub mod netns;
pub mod network;
pub mod ports;
pub mod proc;
pub mod sandbox;
pub mod serial;

pub use agent::{
    fatal_line, rpc, run_agent_once, threadctl_at, threadctl_command, Agent, AgentOptions,
};
pub use bins::{ot_bins, workspace_bins, OtBins, WorkspaceBins};
pub use cli::CliNode;
pub use dataset::Tlvs;
pub use sandbox::Sandbox;

use std::time::Duration;

/// Runs a test body in a fresh [`Sandbox`]. An `Err` becomes a panic raised while the sandbox
/// still exists, so its directory (with every process's log) is kept and its path printed.
pub fn with_sandbox(body: impl FnOnce(&Sandbox) -> anyhow::Result<()>) {
    let sb = Sandbox::new().expect("creating the test sandbox");
    if let Err(e) = body(&sb) {
        panic!("{e:?}");
    }
}

/// Generous deadline for a node to form or attach (Thread attach takes a few seconds; a
/// child-to-router upgrade can take up to two minutes, so tests accept child or router).
pub const ATTACH_TIMEOUT: Duration = Duration::from_secs(90);
