//! Spinel over HDLC-lite: the link between the host and an OpenThread NCP co-processor
//! (see `shared/reference/thread-facts.md` §1; authoritative sources are OpenThread's
//! `src/lib/spinel/spinel.h`, `src/lib/hdlc/hdlc.cpp` and `src/ncp/ncp_base*.cpp`).
//!
//! Owns: everything Spinel. The framing, the property keys (each defined once, in
//! [`spinel::prop`]), the typed codecs of their values ([`props`]), the transports and the
//! async client. It knows no commissioning: it must never depend on `meshcop`, the agent or the
//! CLI (what a property's bytes mean at the MeshCoP level, e.g. network data TLVs, is `meshcop`'s).
//!
//! Layers, bottom up:
//! - [`hdlc`]: HDLC-lite framing (no I/O): encoder and a byte-at-a-time decoder.
//! - [`spinel`]: Spinel frame header, packed integers, property keys, commands, capabilities, status.
//! - [`codec`]: typed reader/writer for Spinel value formats (`b C S L X i 6 E e U d D t() A()`).
//! - [`url`]: radio URLs (`spinel+hdlc+uart://...`, `spinel+hdlc+forkpty://...`).
//! - [`transport`]: serial port and pseudo-terminal child process byte streams.
//! - [`props`]: typed codecs of property values (bridge values, neighbour and child tables, UDP
//!   forward stream).
//! - [`client`]: the async request/response client with an event queue for unsolicited frames.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ncp::Error> {
//! use ncp::spinel::{cap, prop};
//! let url: ncp::RadioUrl = "spinel+hdlc+forkpty:///opt/ot/ot-ncp-ftd?forkpty-arg=1".parse()?;
//! let (client, mut events) = ncp::Client::open(&url, ncp::ClientOptions::default()).await?;
//! let info = client.probe().await?; // Spinel 4.x, NCP (not RCP), FTD, UDP forward
//! assert!(info.has_cap(cap::THREAD_UDP_FORWARD));
//! let role = client.get(prop::NET_ROLE).await?; // value bytes, decode with codec::Reader
//! while let Some(event) = events.recv().await { /* Property / Reset / Closed */ }
//! # Ok(()) }
//! ```
//!
//! Guarantees: nothing in this crate panics on bytes received from the co-processor; malformed
//! input becomes an [`Error`] or a counted, dropped frame.

pub mod client;
pub mod codec;
pub mod hdlc;
pub mod props;
pub mod spinel;
pub mod transport;
pub mod url;

pub use client::{Client, ClientOptions, Event, LinkStats, NcpInfo};
pub use url::RadioUrl;

/// Errors of the `ncp` crate. Messages are one line an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The radio URL is malformed.
    #[error("invalid radio URL: {0}")]
    BadUrl(String),
    /// The radio URL's scheme is not one this crate speaks.
    #[error("unknown radio URL scheme `{scheme}` (accepted: {accepted})")]
    UnknownScheme {
        scheme: String,
        accepted: &'static str,
    },
    /// The radio URL has a query parameter this crate does not know.
    #[error("unknown radio URL parameter `{name}` (accepted: {accepted})")]
    UnknownParameter {
        name: String,
        accepted: &'static str,
    },
    /// The device node or program does not exist.
    #[error("co-processor device `{path}` does not exist (is the dongle plugged in? is the path right?)")]
    DeviceMissing { path: String },
    /// The device node or program exists but may not be opened.
    #[error("permission denied opening `{path}` (add the user to the device's group, e.g. `dialout`, or fix the file mode)")]
    PermissionDenied { path: String },
    /// Any other I/O error on the link.
    #[error("co-processor link I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The co-processor did not answer in time.
    #[error("no answer from the co-processor to {what} (is it an OpenThread NCP, at the right baud rate?)")]
    Timeout { what: String },
    /// The co-processor answered with a failure status.
    #[error("co-processor refused {prop:?}: {status:?}")]
    Status {
        prop: spinel::Prop,
        status: spinel::Status,
    },
    /// The co-processor firmware is not usable by this host; the message says what to flash.
    #[error("unsupported co-processor firmware: {0}")]
    UnsupportedFirmware(String),
    /// The co-processor sent something that does not follow the protocol.
    #[error("co-processor protocol error: {0}")]
    Protocol(String),
    /// The link is closed (device unplugged, child process exited, client shut down).
    #[error("co-processor link closed")]
    Closed,
}
