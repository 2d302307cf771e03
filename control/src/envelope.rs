//! The request envelope `{"id":..,"method":"..","params":{..}}` and reply lines
//! `{"id":..,"result":..}` / `{"id":..,"error":{"code":"..","message":".."}}`.
//!
//! Guarantees: an [`Envelope`] zeroes every string of its `params` when dropped (the PSKd of a
//! `joiner.add` is one of them), so a request's secret does not outlive its parsing.

use serde_json::{json, Value};
use zeroize::Zeroize;

use crate::error::{Code, MethodError};
use crate::request::Method;

/// The longest request line accepted (bytes, without the newline).
pub const MAX_LINE: usize = 64 * 1024;

/// A request line as read: the method not yet looked up, the params not yet typed.
/// The strings of `params` are zeroed on drop.
#[derive(Clone, PartialEq)]
pub struct Envelope {
    /// Echoed back verbatim (number, string or null).
    pub id: Value,
    pub method: String,
    /// Always an object (`{}` when absent or null).
    pub params: Value,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `params` may hold a PSKd: only its keys are shown.
        let keys: Vec<&str> = match &self.params {
            Value::Object(m) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("Envelope")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("params", &keys)
            .finish()
    }
}

impl Drop for Envelope {
    fn drop(&mut self) {
        wipe(&mut self.params);
    }
}

/// Zeroes every string in `v` (object values, array items, nested), in place.
pub fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

impl Envelope {
    /// Looks the method up; `debug`: whether the test-only methods are served.
    /// An unknown (or unserved) method is `method_not_found`.
    pub fn method(&self, debug: bool) -> Result<Method, MethodError> {
        match Method::from_name(&self.method) {
            Some(m) if debug || !m.is_debug() => Ok(m),
            _ => {
                let served: Vec<&str> = Method::ALL
                    .iter()
                    .filter(|m| !m.is_debug())
                    .map(|m| m.as_str())
                    .collect();
                Err(MethodError::new(
                    Code::MethodNotFound,
                    format!(
                        "unknown method `{}` (this agent serves: {})",
                        self.method,
                        served.join(", ")
                    ),
                ))
            }
        }
    }
}

fn invalid(code: Code, id: Value, message: impl Into<String>) -> (Value, MethodError) {
    (id, MethodError::new(code, message))
}

/// Parses one request line. On error, returns the id (if one could be read) and the error.
pub fn parse_line(line: &[u8]) -> Result<Envelope, (Value, MethodError)> {
    let text = std::str::from_utf8(line)
        .map_err(|_| invalid(Code::ParseError, Value::Null, "request is not UTF-8"))?;
    let v: Value = serde_json::from_str(text.trim()).map_err(|e| {
        let msg = format!("request is not JSON: {e}");
        invalid(Code::ParseError, Value::Null, msg)
    })?;
    let Value::Object(mut obj) = v else {
        let msg = "request must be a JSON object";
        return Err(invalid(Code::InvalidRequest, Value::Null, msg));
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    if !(id.is_null() || id.is_number() || id.is_string()) {
        let msg = "`id` must be a number, a string or null";
        return Err(invalid(Code::InvalidRequest, Value::Null, msg));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => {
            return Err(invalid(
                Code::InvalidRequest,
                id,
                "`method` must be a string",
            ))
        }
        None => return Err(invalid(Code::InvalidRequest, id, "missing `method`")),
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(invalid(
                Code::InvalidParams,
                id,
                "`params` must be an object",
            ))
        }
    };
    Ok(Envelope { id, method, params })
}

/// Builds a reply line (with the trailing newline).
pub fn reply_line(id: &Value, result: Result<Value, MethodError>) -> String {
    let v = match result {
        Ok(r) => json!({ "id": id, "result": r }),
        Err(e) => json!({ "id": id, "error": e }),
    };
    line_of(v)
}

/// The line of `v`, built without leftover copies: its length is counted first so that the
/// buffer is allocated once (no reallocation leaves a freed copy of a secret behind, e.g. the
/// `dataset.export` hex), then every string of `v` is wiped.
fn line_of(mut v: Value) -> String {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    let _ = serde_json::to_writer(&mut n, &v);
    let mut buf = Vec::with_capacity(n.0 + 1);
    let _ = serde_json::to_writer(&mut buf, &v);
    wipe(&mut v);
    buf.push(b'\n');
    // serde_json writes valid UTF-8.
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
