//! Opening the co-processor link and the start-up check, with the mapping from `ncp::Error` to
//! the agent's exit codes (contract: 2 invalid radio URL, 3 device missing, 4 permission denied,
//! 5 co-processor does not answer, 6 unsupported firmware, 1 anything else).
//!
//! Guarantees: [`open`] either returns a probed client whose firmware passed `Client::probe()`
//! (Thread NCP, protocol 4, FTD, UDP forward) or a [`Fatal`] carrying the exit code and a one-line
//! message that tells the operator what to do.
//!
//! Validated by the unit test of the mapping below and by hand against the simulation NCP and a
//! missing device path.

use ncp::{Client, ClientOptions, Event, NcpInfo, RadioUrl};
use tokio::sync::mpsc::Receiver;

/// A fatal error: exit code and a one-line message.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Fatal {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Fatal {
        Fatal {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Exit codes (contract).
pub(crate) mod exit {
    pub(crate) const OK: i32 = 0;
    pub(crate) const FAILURE: i32 = 1;
    pub(crate) const USAGE: i32 = 2;
    pub(crate) const DEVICE_MISSING: i32 = 3;
    pub(crate) const PERMISSION_DENIED: i32 = 4;
    pub(crate) const NO_ANSWER: i32 = 5;
    pub(crate) const UNSUPPORTED_FIRMWARE: i32 = 6;
}

/// The exit code for an `ncp::Error`.
pub(crate) fn exit_code(e: &ncp::Error) -> i32 {
    use ncp::Error as E;
    match e {
        E::BadUrl(_) | E::UnknownScheme { .. } | E::UnknownParameter { .. } => exit::USAGE,
        E::DeviceMissing { .. } => exit::DEVICE_MISSING,
        E::PermissionDenied { .. } => exit::PERMISSION_DENIED,
        E::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => exit::PERMISSION_DENIED,
        E::Io(io) if io.kind() == std::io::ErrorKind::NotFound => exit::DEVICE_MISSING,
        E::Timeout { .. } => exit::NO_ANSWER,
        E::UnsupportedFirmware(_) => exit::UNSUPPORTED_FIRMWARE,
        _ => exit::FAILURE,
    }
}

/// Turns an `ncp::Error` into a [`Fatal`].
pub(crate) fn fatal(e: ncp::Error) -> Fatal {
    let message = match &e {
        ncp::Error::Closed => {
            "co-processor link closed (the device was unplugged or the co-processor program exited)"
                .to_string()
        }
        other => other.to_string(),
    };
    Fatal::new(exit_code(&e), message)
}

/// Opens the link and checks the firmware.
pub(crate) async fn open(url: &RadioUrl) -> Result<(Client, Receiver<Event>, NcpInfo), Fatal> {
    let (client, events) = Client::open(url, ClientOptions::default())
        .await
        .map_err(fatal)?;
    let info = client.probe().await.map_err(fatal)?;
    Ok((client, events, info))
}

/// Drops the events queued while opening (the co-processor's power-on reset, ...): they describe
/// the state before start-up, and start-up reads everything afresh. A closed link is fatal.
pub(crate) fn discard_startup_events(events: &mut Receiver<Event>) -> Result<(), Fatal> {
    while let Ok(ev) = events.try_recv() {
        match ev {
            Event::Closed { reason } => {
                return Err(Fatal::new(
                    exit::FAILURE,
                    format!("co-processor link closed: {reason}"),
                ))
            }
            other => tracing::debug!(event = ?other, "event before start-up ignored"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_to_exit_code() {
        assert_eq!(exit_code(&ncp::Error::BadUrl("x".into())), 2);
        assert_eq!(
            exit_code(&ncp::Error::DeviceMissing {
                path: "/dev/x".into()
            }),
            3
        );
        assert_eq!(
            exit_code(&ncp::Error::PermissionDenied {
                path: "/dev/x".into()
            }),
            4
        );
        assert_eq!(
            exit_code(&ncp::Error::Timeout {
                what: "PROTOCOL_VERSION".into()
            }),
            5
        );
        assert_eq!(exit_code(&ncp::Error::UnsupportedFirmware("rcp".into())), 6);
        assert_eq!(exit_code(&ncp::Error::Closed), 1);
        assert_eq!(exit_code(&ncp::Error::Protocol("x".into())), 1);
    }
}
