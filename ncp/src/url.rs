//! Radio URLs naming the co-processor link, in the form ot-br-posix uses:
//!
//! - `spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800&uart-flow-control`
//!   (`uart-baudrate` default 115200; `uart-flow-control` alone or `=1|true|0|false`, default off)
//! - `spinel+hdlc+forkpty:///path/to/ot-ncp-ftd?forkpty-arg=1` (`forkpty-arg` repeatable, in order)
//!
//! Query values are percent-decoded. Unknown schemes and parameters are errors naming what is
//! accepted. [`RadioUrl`]'s `Display` prints a URL that parses back to the same value.

use crate::Error;
use std::fmt;
use std::str::FromStr;

/// Schemes accepted by [`RadioUrl::from_str`].
pub const ACCEPTED_SCHEMES: &str = "spinel+hdlc+uart, spinel+hdlc+forkpty";
/// Parameters accepted with `spinel+hdlc+uart`.
pub const UART_PARAMETERS: &str = "uart-baudrate, uart-flow-control";
/// Parameters accepted with `spinel+hdlc+forkpty`.
pub const FORKPTY_PARAMETERS: &str = "forkpty-arg";
/// Baud rate used when the URL gives none.
pub const DEFAULT_BAUDRATE: u32 = 115_200;

/// Where the co-processor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioKind {
    /// A serial port (USB CDC-ACM dongle or a UART).
    Uart {
        path: String,
        baudrate: u32,
        flow_control: bool,
    },
    /// A program started on a pseudo-terminal (the simulation NCP), with its arguments.
    ForkPty { program: String, args: Vec<String> },
}

/// A parsed radio URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioUrl {
    kind: RadioKind,
}

impl RadioUrl {
    /// A URL for a serial port.
    pub fn uart(path: impl Into<String>, baudrate: u32, flow_control: bool) -> Self {
        RadioUrl {
            kind: RadioKind::Uart {
                path: path.into(),
                baudrate,
                flow_control,
            },
        }
    }
    /// A URL for a program run on a pseudo-terminal.
    pub fn forkpty(program: impl Into<String>, args: Vec<String>) -> Self {
        RadioUrl {
            kind: RadioKind::ForkPty {
                program: program.into(),
                args,
            },
        }
    }
    /// What the URL names.
    pub fn kind(&self) -> &RadioKind {
        &self.kind
    }
    /// The device path or program path.
    pub fn path(&self) -> &str {
        match &self.kind {
            RadioKind::Uart { path, .. } => path,
            RadioKind::ForkPty { program, .. } => program,
        }
    }
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let v = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error::BadUrl(format!("bad percent escape in `{s}`")))?;
                out.push(v);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::BadUrl(format!("`{s}` is not UTF-8 after percent-decoding")))
}

fn percent_encode(s: &str, out: &mut fmt::Formatter<'_>) -> fmt::Result {
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~/:".contains(&c) {
            write!(out, "{}", c as char)?;
        } else {
            write!(out, "%{c:02X}")?;
        }
    }
    Ok(())
}

impl FromStr for RadioUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            Error::BadUrl(format!(
                "`{s}` is not a URL (expected e.g. spinel+hdlc+uart:///dev/ttyACM0)"
            ))
        })?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let path = percent_decode(path)?;
        if path.is_empty() {
            return Err(Error::BadUrl(format!(
                "`{s}` has no device or program path"
            )));
        }
        let params: Vec<(String, Option<String>)> = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => Ok((percent_decode(k)?, Some(percent_decode(v)?))),
                None => Ok((percent_decode(p)?, None)),
            })
            .collect::<Result<_, Error>>()?;
        match scheme {
            "spinel+hdlc+uart" => {
                let mut baudrate = DEFAULT_BAUDRATE;
                let mut flow_control = false;
                for (k, v) in params {
                    match k.as_str() {
                        "uart-baudrate" => {
                            let v = v.unwrap_or_default();
                            baudrate = v.parse().ok().filter(|&b: &u32| b > 0).ok_or_else(|| {
                                Error::BadUrl(format!("uart-baudrate `{v}` is not a positive integer (e.g. 115200, 460800)"))
                            })?;
                        }
                        "uart-flow-control" => {
                            flow_control = match v.as_deref() {
                                None | Some("") | Some("1") | Some("true") => true,
                                Some("0") | Some("false") => false,
                                Some(o) => {
                                    return Err(Error::BadUrl(format!(
                                        "uart-flow-control `{o}` is not one of: (no value), 1, true, 0, false"
                                    )))
                                }
                            };
                        }
                        _ => {
                            return Err(Error::UnknownParameter {
                                name: k,
                                accepted: UART_PARAMETERS,
                            })
                        }
                    }
                }
                Ok(RadioUrl::uart(path, baudrate, flow_control))
            }
            "spinel+hdlc+forkpty" => {
                let mut args = Vec::new();
                for (k, v) in params {
                    match k.as_str() {
                        "forkpty-arg" => args.push(v.unwrap_or_default()),
                        _ => {
                            return Err(Error::UnknownParameter {
                                name: k,
                                accepted: FORKPTY_PARAMETERS,
                            })
                        }
                    }
                }
                Ok(RadioUrl::forkpty(path, args))
            }
            _ => Err(Error::UnknownScheme {
                scheme: scheme.to_owned(),
                accepted: ACCEPTED_SCHEMES,
            }),
        }
    }
}

impl fmt::Display for RadioUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RadioKind::Uart {
                path,
                baudrate,
                flow_control,
            } => {
                f.write_str("spinel+hdlc+uart://")?;
                percent_encode(path, f)?;
                write!(f, "?uart-baudrate={baudrate}")?;
                if *flow_control {
                    f.write_str("&uart-flow-control")?;
                }
                Ok(())
            }
            RadioKind::ForkPty { program, args } => {
                f.write_str("spinel+hdlc+forkpty://")?;
                percent_encode(program, f)?;
                for (i, a) in args.iter().enumerate() {
                    f.write_str(if i == 0 {
                        "?forkpty-arg="
                    } else {
                        "&forkpty-arg="
                    })?;
                    percent_encode(a, f)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uart() {
        let u: RadioUrl = "spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800"
            .parse()
            .unwrap();
        assert_eq!(
            u.kind(),
            &RadioKind::Uart {
                path: "/dev/ttyACM0".into(),
                baudrate: 460800,
                flow_control: false
            }
        );
        let u: RadioUrl = "spinel+hdlc+uart:///dev/ttyUSB0?uart-flow-control"
            .parse()
            .unwrap();
        assert_eq!(
            u.kind(),
            &RadioKind::Uart {
                path: "/dev/ttyUSB0".into(),
                baudrate: 115200,
                flow_control: true
            }
        );
        assert_eq!(
            u.to_string(),
            "spinel+hdlc+uart:///dev/ttyUSB0?uart-baudrate=115200&uart-flow-control"
        );
        assert_eq!(u.to_string().parse::<RadioUrl>().unwrap(), u);
    }

    #[test]
    fn forkpty() {
        let u: RadioUrl =
            "spinel+hdlc+forkpty:///opt/ot/ot-ncp-ftd?forkpty-arg=1&forkpty-arg=a%20b"
                .parse()
                .unwrap();
        assert_eq!(
            u.kind(),
            &RadioKind::ForkPty {
                program: "/opt/ot/ot-ncp-ftd".into(),
                args: vec!["1".into(), "a b".into()]
            }
        );
        assert_eq!(
            u.to_string(),
            "spinel+hdlc+forkpty:///opt/ot/ot-ncp-ftd?forkpty-arg=1&forkpty-arg=a%20b"
        );
        assert_eq!(u.to_string().parse::<RadioUrl>().unwrap(), u);
        assert_eq!(u.path(), "/opt/ot/ot-ncp-ftd");
    }

    #[test]
    fn errors() {
        match "spinel+spi:///dev/spidev0".parse::<RadioUrl>() {
            Err(e @ Error::UnknownScheme { .. }) => {
                assert!(
                    e.to_string()
                        .contains("spinel+hdlc+uart, spinel+hdlc+forkpty"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
        match "spinel+hdlc+uart:///dev/ttyACM0?baud=1".parse::<RadioUrl>() {
            Err(e @ Error::UnknownParameter { .. }) => {
                assert!(e.to_string().contains("uart-baudrate"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            "spinel+hdlc+forkpty:///x?uart-baudrate=1".parse::<RadioUrl>(),
            Err(Error::UnknownParameter { .. })
        ));
        assert!(matches!(
            "/dev/ttyACM0".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
        assert!(matches!(
            "spinel+hdlc+uart://".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
        assert!(matches!(
            "spinel+hdlc+uart:///d?uart-baudrate=fast".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
        assert!(matches!(
            "spinel+hdlc+uart:///d?uart-baudrate=0".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
        assert!(matches!(
            "spinel+hdlc+uart:///d?uart-flow-control=maybe".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
        assert!(matches!(
            "spinel+hdlc+forkpty:///x?forkpty-arg=%zz".parse::<RadioUrl>(),
            Err(Error::BadUrl(_))
        ));
    }
}
