//! Which keys the configuration has: the file read as text (an empty file or `/dev/null` is all
//! defaults), its keys flattened to `section.key`, and the check that each is one this program
//! reads ([`super::KNOWN_KEYS`]); an unknown key in the file is an error naming the closest known
//! one by edit distance (`strsim`), so a typo (`chanel`) cannot silently fall back to a default.
//!
//! Validated by the unit tests in `config/tests.rs`.

use std::path::PathBuf;

use super::{env_name, one_line, ConfigError, Overrides, DEFAULT_CONFIG_PATH, KNOWN_KEYS};

/// The configuration file's text: the explicit file (which must exist; an empty one, or
/// `/dev/null`, means all defaults) or the default file if there is one. Read here rather than by
/// the `config` crate, which looks only for regular files and says "not found" for anything else.
pub(super) fn read_file(overrides: &Overrides) -> Result<Option<String>, ConfigError> {
    let (path, explicit) = match &overrides.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
    };
    match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ConfigError::Unreadable(format!("{} is not UTF-8 text", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                Err(ConfigError::MissingFile {
                    path: path.display().to_string(),
                })
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(ConfigError::Unreadable(format!("{}: {e}", path.display()))),
    }
}

/// The keys set by the configuration file alone (flattened, `section.key`).
pub(super) fn file_keys(overrides: &Overrides) -> Result<Vec<String>, ConfigError> {
    let Some(text) = read_file(overrides)? else {
        return Ok(Vec::new());
    };
    let cfg = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml))
        .build()
        .map_err(|e| ConfigError::Unreadable(one_line(&e.to_string())))?;
    Ok(flat_keys(&cfg))
}

fn flat_keys(cfg: &config::Config) -> Vec<String> {
    let mut keys = Vec::new();
    if let Ok(map) = cfg
        .clone()
        .try_deserialize::<config::Map<String, config::Value>>()
    {
        flatten_keys("", &map, &mut keys);
    }
    keys
}

/// An unknown key in the file is an error (naming the closest known key); one from the
/// environment (`THREAD_AGENT_*` is also used by other tools) is a warning.
pub(super) fn unknown_keys(
    cfg: &config::Config,
    in_file: &[String],
    file_name: &str,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    for key in flat_keys(cfg) {
        // THREAD_AGENT_SIM_NCP, _SOCKET, _JOURNAL_SOCKET and _DEBUG_METHODS are read elsewhere.
        if KNOWN_KEYS.contains(&key.as_str())
            || ["sim_ncp", "socket", "journal_socket", "debug_methods"].contains(&key.as_str())
        {
            continue;
        }
        if in_file.contains(&key) {
            return Err(ConfigError::UnknownKey {
                suggestion: closest_key(&key),
                key,
                origin: format!("in {file_name}"),
            });
        }
        warnings.push(format!(
            "ignoring unknown configuration key `{key}` (from env {})",
            env_name(&key)
        ));
    }
    Ok(warnings)
}

/// The known key nearest to `key` by edit distance, compared both as a whole (`network.chanel`)
/// and by its last part (`chanel` at the top level is `network.channel` misplaced or misspelt);
/// `None` if nothing is close (more than a third of the name differs).
pub(crate) fn closest_key(key: &str) -> Option<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let (best, distance) = KNOWN_KEYS
        .iter()
        .map(|k| {
            let d = strsim::levenshtein(key, k).min(strsim::levenshtein(&last(key), &last(k)));
            (*k, d)
        })
        .min_by_key(|(_, d)| *d)?;
    (distance * 3 <= last(key).len().max(3)).then(|| best.to_string())
}

fn flatten_keys(prefix: &str, map: &config::Map<String, config::Value>, out: &mut Vec<String>) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v.clone().into_table() {
            Ok(t)
                if [
                    "network",
                    "log",
                    "commissioner",
                    "bridge",
                    "border_agent",
                    "audit",
                    "devices",
                    "rest",
                    "mdns",
                ]
                .contains(&key.as_str()) =>
            {
                flatten_keys(&key, &t, out)
            }
            _ => out.push(key),
        }
    }
}
