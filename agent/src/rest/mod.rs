//! The OpenThread Border Router REST API (ot-br-posix `src/rest/`, the camelCase form), served
//! so that Home Assistant's `otbr` integration (python-otbr-api) can adopt the agent as its
//! border router. HTTP/1.1 by axum (hyper underneath); off unless `[rest] listen` is set.
//!
//! Security: a loopback listen address may be used without credentials; any other needs
//! `[rest] credentials_file` (mode 0600, one line `user:password`), checked at start-up
//! ([`RestConfig::load_credentials`]); then every request needs HTTP Basic credentials (401
//! otherwise, with no data). Every request that reads or changes a dataset is an audit record
//! with the peer's address. Writes go through [`crate::lifecycle`] (validation, backups, events).
//! Bodies are at most [`MAX_BODY`] bytes (413).

// Helpers return the error response itself (`Result<T, Response>`): it goes straight back to the
// client, once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub(crate) mod json;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use meshcop::dataset::{timestamp, Dataset};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::lifecycle::rest_ops::Refusal;
use crate::lifecycle::Lifecycle;
use crate::network::Network;

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 8 * 1024;

/// HTTP Basic credentials (redacted in `Debug`, zeroed on drop).
#[derive(Clone)]
pub(crate) struct Credentials {
    user: String,
    password: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

/// `[rest]`.
#[derive(Debug, Clone)]
pub(crate) struct RestConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) credentials: Option<Credentials>,
}

impl RestConfig {
    /// Validates `[rest]`: a non-loopback address needs a credentials file, which must be mode
    /// 0600 (no group or other access) and hold one `user:password` line.
    pub(crate) fn new(listen: SocketAddr, file: Option<PathBuf>) -> Result<RestConfig, String> {
        let credentials = match file {
            Some(p) => Some(Self::load_credentials(&p)?),
            None if listen.ip().is_loopback() => None,
            None => {
                return Err(format!(
                    "[rest] listen = \"{listen}\" is not a loopback address: set [rest] credentials_file (mode 0600, one line user:password) or listen on 127.0.0.1"
                ))
            }
        };
        Ok(RestConfig {
            listen,
            credentials,
        })
    }

    fn load_credentials(p: &std::path::Path) -> Result<Credentials, String> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(p)
            .map_err(|e| format!("[rest] credentials_file {}: {e}", p.display()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "[rest] credentials_file {} is mode {:o}: it holds a password, make it 0600",
                p.display(),
                meta.mode() & 0o777
            ));
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(p)
                .map_err(|e| format!("[rest] credentials_file {}: {e}", p.display()))?,
        );
        let line = text.trim();
        match line.split_once(':') {
            Some((u, pw)) if !u.is_empty() && !pw.is_empty() && !line.contains('\n') => {
                Ok(Credentials {
                    user: u.to_string(),
                    password: Zeroizing::new(pw.to_string()),
                })
            }
            _ => Err(format!(
                "[rest] credentials_file {} must hold one line user:password",
                p.display()
            )),
        }
    }
}

/// The control methods (the same ones threadctl calls) and the identity REST calls use: the
/// agent's own uid (a REST client is loopback-local or authenticated).
#[derive(Clone)]
pub(crate) struct Control {
    pub(crate) handler: Arc<dyn crate::control_socket::Handler>,
    pub(crate) own_uid: u32,
}

#[derive(Clone)]
struct Ctx {
    net: Arc<Network>,
    lifecycle: Arc<Lifecycle>,
    control: Control,
    credentials: Option<Arc<Credentials>>,
}

/// Binds the listen address (an error names it); the returned future serves until dropped.
pub(crate) async fn bind(
    config: RestConfig,
    net: Arc<Network>,
    lifecycle: Arc<Lifecycle>,
    control: Control,
) -> Result<impl std::future::Future<Output = Result<(), String>> + Send, String> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("REST API: cannot listen on {}: {e}", config.listen))?;
    tracing::info!(listen = %config.listen, auth = config.credentials.is_some(), "REST API listening");
    let ctx = Ctx {
        net,
        lifecycle,
        control,
        credentials: config.credentials.map(Arc::new),
    };
    let app = router(ctx);
    Ok(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .map_err(|e| format!("REST API: {e}"))
    })
}

fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/api/actions", get(actions))
        .route("/node", get(node).delete(node_delete))
        .route("/node/ba-id", get(ba_id))
        .route("/node/ext-address", get(ext_address))
        .route("/node/state", get(state_get).put(state_put))
        .route("/node/coprocessor/version", get(version))
        .route(
            "/node/dataset/active",
            get(active_get).put(active_put).delete(active_delete),
        )
        .route(
            "/node/dataset/pending",
            get(pending_get).put(pending_put).delete(pending_delete),
        )
        .route(
            "/node/commissioner/state",
            get(commissioner_get).put(commissioner_put),
        )
        .route(
            "/node/commissioner/joiner",
            get(joiners_get).post(joiner_post).delete(joiner_delete),
        )
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such resource") })
        .method_not_allowed_fallback(|| async {
            problem(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), auth))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

/// An RFC 7807 style error body (`title`, `detail`), as ot-br-posix answers errors.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn json_ok(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let Some(creds) = &ctx.credentials else {
        return next.run(req).await;
    };
    use base64::Engine;
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .map(Zeroizing::new)
        .is_some_and(|given| {
            let mut want = Zeroizing::new(Vec::new());
            want.extend_from_slice(creds.user.as_bytes());
            want.push(b':');
            want.extend_from_slice(creds.password.as_bytes());
            ct_eq(&given, &want)
        });
    if ok {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    tracing::warn!(peer = %peer, path = %req.uri().path(), "REST API: request without valid credentials refused");
    let mut r = problem(StatusCode::UNAUTHORIZED, "HTTP Basic credentials required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"thread-agent\""),
    );
    r
}

fn who(peer: SocketAddr, method: &str, path: &str) -> Value {
    json!({"peer": peer.to_string(), "via": "rest", "request": format!("{method} {path}")})
}

fn refusal(r: Refusal) -> Response {
    match r {
        Refusal::ThreadEnabled => problem(
            StatusCode::CONFLICT,
            "Thread is enabled: PUT /node/state \"disable\" first",
        ),
        Refusal::PendingExists => problem(
            StatusCode::CONFLICT,
            "a pending dataset is already in place",
        ),
        Refusal::Invalid(m) => problem(StatusCode::BAD_REQUEST, &m),
        Refusal::Failed(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    }
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("the co-processor did not answer: {e}"),
    )
}

async fn actions() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/vnd.api+json")],
        json!({"data": [], "meta": {"collection": {"offset": 0, "limit": 100, "total": 0}}})
            .to_string(),
    )
        .into_response()
}

/// The Border Agent ID: 16 random bytes kept in `<state_dir>/ba-id` (0600), made once.
fn border_agent_id(net: &Network) -> std::io::Result<[u8; 16]> {
    let path = net.state.dataset_path().with_file_name("ba-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut id = [0u8; 16];
        if hex::decode_to_slice(text.trim(), &mut id).is_ok() {
            return Ok(id);
        }
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::state::write_atomic(&path, hex::encode(id).as_bytes(), 0o600)?;
    Ok(id)
}

async fn ext_address_of(net: &Network) -> Result<[u8; 8], Response> {
    // SPINEL_PROP_MAC_15_4_LADDR (52): the extended address.
    let v = net
        .client
        .get(ncp::spinel::Prop(52))
        .await
        .map_err(unavailable)?;
    v.get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| unavailable("short MAC_15_4_LADDR"))
}

async fn node(State(ctx): State<Ctx>) -> Response {
    let snap = match ctx.net.snapshot().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let ext = match ext_address_of(&ctx.net).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let ba_id = border_agent_id(&ctx.net)
        .map(hex::encode)
        .unwrap_or_default();
    let routers = ctx
        .net
        .neighbors()
        .await
        .map(|n| n.iter().filter(|n| !n.is_child).count() + 1)
        .unwrap_or(1);
    json_ok(
        StatusCode::OK,
        &json!({
            "baId": ba_id,
            "state": snap.role.as_str(),
            "numOfRouter": routers,
            "rloc16": snap.rloc16,
            "extAddress": hex::encode(ext),
            "networkName": snap.network_name,
            "extPanId": hex::encode(snap.ext_pan_id),
            "leaderData": {"partitionId": snap.partition_id},
        }),
    )
}

async fn node_delete(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    match ctx
        .lifecycle
        .factory_reset(who(peer, "DELETE", "/node"))
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(r) => refusal(r),
    }
}

async fn ba_id(State(ctx): State<Ctx>) -> Response {
    match border_agent_id(&ctx.net) {
        Ok(id) => json_ok(StatusCode::OK, &json!(hex::encode(id))),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn ext_address(State(ctx): State<Ctx>) -> Response {
    match ext_address_of(&ctx.net).await {
        Ok(e) => json_ok(StatusCode::OK, &json!(hex::encode(e))),
        Err(r) => r,
    }
}

async fn version(State(ctx): State<Ctx>) -> Response {
    json_ok(StatusCode::OK, &json!(ctx.net.info.version))
}

async fn state_get(State(ctx): State<Ctx>) -> Response {
    match ctx.net.role().await {
        Ok(r) => json_ok(StatusCode::OK, &json!(r.as_str())),
        Err(e) => unavailable(e),
    }
}

async fn state_put(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let enable = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(s)) if s == "enable" => true,
        Ok(Value::String(s)) if s == "disable" => false,
        Ok(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "the body must be the JSON string \"enable\" or \"disable\"",
            )
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
    };
    match ctx
        .lifecycle
        .set_thread_enabled(who(peer, "PUT", "/node/state"), enable)
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(r) => refusal(r),
    }
}

fn wants_text(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/plain"))
}

fn is_text(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain"))
}

async fn dataset_get(ctx: Ctx, peer: SocketAddr, h: HeaderMap, active: bool) -> Response {
    let which = if active { "active" } else { "pending" };
    let tlvs = match ctx.lifecycle.dataset_tlvs(active).await {
        Ok(t) => t,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    };
    let text = wants_text(&h);
    let mut fields = who(peer, "GET", &format!("/node/dataset/{which}"));
    fields["dataset"] = json!(which);
    fields["format"] = json!(if text { "hex" } else { "json" });
    fields["present"] = json!(!tlvs.is_empty());
    ctx.lifecycle.audit_rest("dataset-read", &fields);
    if tlvs.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    if text {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            hex::encode_upper(&*tlvs),
        )
            .into_response();
    }
    match Dataset::decode(&tlvs) {
        Ok(ds) if active => json_ok(StatusCode::OK, &json::active_json(&ds)),
        Ok(ds) => json_ok(StatusCode::OK, &json::pending_json(&ds)),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the co-processor's dataset does not decode: {e}"),
        ),
    }
}

async fn active_get(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    dataset_get(ctx, peer, h, true).await
}

async fn pending_get(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    dataset_get(ctx, peer, h, false).await
}

fn hex_body(body: &[u8]) -> Result<Zeroizing<Vec<u8>>, Response> {
    let s = std::str::from_utf8(body)
        .map_err(|_| problem(StatusCode::BAD_REQUEST, "the body is not hex text"))?;
    hex::decode(s.trim())
        .map(Zeroizing::new)
        .map_err(|_| problem(StatusCode::BAD_REQUEST, "the body is not hex TLVs"))
}

fn json_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
        )
    })
}

async fn active_put(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let current = match ctx.lifecycle.dataset_tlvs(true).await {
        Ok(t) => t,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    };
    let created = current.is_empty();
    let tlvs = if is_text(&h) {
        match hex_body(&body) {
            Ok(t) => t,
            Err(r) => return r,
        }
    } else {
        let v = match json_body(&body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let base = if created {
            match crate::network::generate_dataset(&ctx.net.name, ctx.net.channel) {
                Ok(t) => t,
                Err(f) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &f.message),
            }
        } else {
            current
        };
        let mut ds = match Dataset::decode(&base) {
            Ok(d) => d,
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        if let Err(m) = json::merge_active(&mut ds, &v) {
            return problem(StatusCode::BAD_REQUEST, &m);
        }
        Zeroizing::new(ds.encode())
    };
    match ctx
        .lifecycle
        .set_active_stopped(who(peer, "PUT", "/node/dataset/active"), &tlvs)
        .await
    {
        Ok(()) if created => StatusCode::CREATED.into_response(),
        Ok(()) => StatusCode::OK.into_response(),
        Err(r) => refusal(r),
    }
}

async fn pending_put(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let if_none_match = h.contains_key(header::IF_NONE_MATCH);
    let tlvs = if is_text(&h) {
        match hex_body(&body) {
            Ok(t) => t,
            Err(r) => return r,
        }
    } else {
        let v = match json_body(&body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let (active_v, pending_ts, delay) = match json::split_pending(&v) {
            Ok(p) => p,
            Err(m) => return problem(StatusCode::BAD_REQUEST, &m),
        };
        let current = match ctx.lifecycle.dataset_tlvs(true).await {
            Ok(t) if !t.is_empty() => t,
            Ok(_) => return problem(StatusCode::CONFLICT, "there is no active dataset"),
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
        };
        let mut ds = match Dataset::decode(&current) {
            Ok(d) => d,
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let old_ts = ds.active_timestamp.map_or(0, timestamp::seconds);
        ds.active_timestamp = None;
        if let Err(m) = json::merge_active(&mut ds, &active_v) {
            return problem(StatusCode::BAD_REQUEST, &m);
        }
        let next = timestamp::new(old_ts + 1, 0, false);
        let active_ts = *ds.active_timestamp.get_or_insert(next);
        ds.set_pending_timestamp(Some(pending_ts.unwrap_or(active_ts.max(next))));
        ds.set_delay_timer(Some(delay.unwrap_or(300_000)));
        Zeroizing::new(ds.encode())
    };
    if let Ok(ds) = Dataset::decode(&tlvs) {
        if ds.delay_timer().is_some_and(|d| d < 30_000) {
            return problem(StatusCode::BAD_REQUEST, "delay must be at least 30000 ms");
        }
    }
    match ctx
        .lifecycle
        .set_pending(who(peer, "PUT", "/node/dataset/pending"), &tlvs)
        .await
    {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(Refusal::PendingExists) if if_none_match => problem(
            StatusCode::PRECONDITION_FAILED,
            "a pending dataset is already in place",
        ),
        Err(r) => refusal(r),
    }
}

async fn dataset_delete(ctx: Ctx, peer: SocketAddr, active: bool) -> Response {
    let which = if active { "active" } else { "pending" };
    match ctx
        .lifecycle
        .clear_dataset(
            who(peer, "DELETE", &format!("/node/dataset/{which}")),
            active,
        )
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(r) => refusal(r),
    }
}

async fn active_delete(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    dataset_delete(ctx, peer, true).await
}

async fn pending_delete(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    dataset_delete(ctx, peer, false).await
}

/// Calls a control method as threadctl would; a control error becomes 400 (bad parameters),
/// 404 (`not_found`) or 409 (anything else the network refused).
async fn call(ctx: &Ctx, method: control::Method, params: Value) -> Result<Value, Response> {
    let request = control::Request::parse(method, &params)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, &e.message))?;
    let peer = crate::control_socket::Peer {
        uid: ctx.control.own_uid,
        gid: 0,
        pid: None,
    };
    ctx.control.handler.call(request, &peer).await.map_err(|e| {
        let status = match e.code {
            control::code::INVALID_PARAMS => StatusCode::BAD_REQUEST,
            control::code::NOT_FOUND => StatusCode::NOT_FOUND,
            _ => StatusCode::CONFLICT,
        };
        problem(status, &e.message)
    })
}

async fn commissioner_get(State(ctx): State<Ctx>) -> Response {
    match call(&ctx, control::Method::CommissionerStatus, json!({})).await {
        Ok(v) => {
            let state = match v["state"].as_str().unwrap_or("") {
                "active" => "active",
                "connecting" | "petitioning" => "petitioning",
                _ => "disabled",
            };
            json_ok(StatusCode::OK, &json!(state))
        }
        Err(r) => r,
    }
}

async fn commissioner_put(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let method = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(s)) if s == "enable" => control::Method::CommissionerStart,
        Ok(Value::String(s)) if s == "disable" => control::Method::CommissionerStop,
        Ok(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "the body must be the JSON string \"enable\" or \"disable\"",
            )
        }
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
    };
    match call(&ctx, method, json!({})).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(r) => r,
    }
}

/// The joiner table; never a PSKd (ot-br-posix echoes it, this agent does not store it).
async fn joiners_get(State(ctx): State<Ctx>) -> Response {
    match call(&ctx, control::Method::JoinerList, json!({})).await {
        Ok(v) => {
            let list: Vec<Value> = v["joiners"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|j| {
                    let id = match j["kind"].as_str() {
                        Some("eui64") => j["eui64"].clone(),
                        Some("any") => json!("*"),
                        _ => j["discerner"].clone(),
                    };
                    json!({"joinerId": id, "timeout": j["expires_in"], "joined": j["joined"]})
                })
                .collect();
            json_ok(StatusCode::OK, &Value::Array(list))
        }
        Err(r) => r,
    }
}

/// `"*"` (any joiner), an EUI-64 (16 hex digits) or a discerner (`HEX/BITS`), as a selector.
fn selector(id: &str) -> Value {
    match id {
        "*" => json!({"any": true}),
        s if s.contains('/') => json!({"discerner": s}),
        s => json!({"eui64": s}),
    }
}

async fn joiner_post(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(id), Some(pskd)) = (v["joinerId"].as_str(), v["pskd"].as_str()) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "the body must be {\"joinerId\": \"*\" or EUI-64, \"pskd\": ..., \"timeout\": seconds}",
        );
    };
    let mut params = selector(id);
    params["pskd"] = json!(pskd);
    if let Some(t) = v.get("timeout") {
        params["timeout"] = t.clone();
    }
    match call(&ctx, control::Method::JoinerAdd, params).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(r) => r,
    }
}

async fn joiner_delete(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let id = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(s)) => s,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON string: \"*\", an EUI-64 or a discerner",
            )
        }
    };
    match call(&ctx, control::Method::JoinerRemove, selector(&id)).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn non_loopback_needs_a_0600_credentials_file() {
        let lo: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        assert!(RestConfig::new(lo, None).unwrap().credentials.is_none());
        let e = RestConfig::new(any, None).unwrap_err();
        assert!(e.contains("credentials_file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("creds");
        std::fs::write(&p, "ha:secret-pw\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = RestConfig::new(any, Some(p.clone())).unwrap_err();
        assert!(e.contains("0600") && !e.contains("secret-pw"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = RestConfig::new(any, Some(p.clone())).unwrap();
        assert!(!format!("{c:?}").contains("secret-pw"));
        for garbage in ["", "nouser", ":pw", "u:", "a:b\nc:d"] {
            std::fs::write(&p, garbage).unwrap();
            let e = RestConfig::new(any, Some(p.clone())).unwrap_err();
            assert!(e.contains("user:password"), "{garbage:?}: {e}");
        }
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"a:b", b"a:b"));
        assert!(!ct_eq(b"a:b", b"a:c"));
        assert!(!ct_eq(b"a:b", b"a:bb"));
    }
}
