//! The start-up check of every configured path, before the co-processor is started: the state
//! directory (created with mode 0700 if missing, then written to), the audit log and its rotated
//! file, the dataset backup, the control socket and its directory.
//!
//! Guarantees: the agent does not run without a place for its dataset backup and audit log (it
//! would otherwise keep running with neither, see issue 10 "fails open"). A path of the wrong kind
//! (a file where a directory belongs, a directory where the audit log belongs) is a configuration
//! error (exit 2); a path the agent may not write is exit 4, as for the serial device. Each message
//! names the key, the path and what to do.
//!
//! Validated by the unit tests in `config/tests.rs` and the exit codes in `tests/tests/startup.rs`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Settings;
use crate::session::exit;

/// A configured path that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{key} {path}: {problem}")]
pub(crate) struct PathError {
    /// The configuration key (or the file inside `state_dir`) the path comes from.
    pub(crate) key: &'static str,
    pub(crate) path: String,
    pub(crate) problem: String,
    /// The exit code: [`exit::USAGE`] (wrong kind of path), [`exit::PERMISSION_DENIED`] (not
    /// writable), [`exit::FAILURE`] (another I/O error).
    pub(crate) code: i32,
}

fn wrong_kind(key: &'static str, path: &Path, problem: impl Into<String>) -> PathError {
    PathError {
        key,
        path: path.display().to_string(),
        problem: problem.into(),
        code: exit::USAGE,
    }
}

/// An I/O error on `path`, classified: not permitted / read-only file system -> exit 4, a path
/// through a file or of the wrong kind -> exit 2, the rest -> exit 1.
fn io_error(key: &'static str, path: &Path, doing: &str, e: &io::Error) -> PathError {
    use io::ErrorKind as K;
    let code = match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => exit::PERMISSION_DENIED,
        K::NotADirectory | K::IsADirectory | K::AlreadyExists | K::InvalidInput | K::NotFound => {
            exit::USAGE
        }
        _ => exit::FAILURE,
    };
    let hint = if code == exit::PERMISSION_DENIED {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        format!(" (the agent runs as uid {uid}; give it write access or choose another path)")
    } else {
        String::new()
    };
    PathError {
        key,
        path: path.display().to_string(),
        problem: format!("cannot {doing}: {e}{hint}"),
        code,
    }
}

/// Checks (and creates, for the state directory) every path of `s`; see the module doc.
pub(crate) fn check_paths(s: &Settings) -> Result<(), PathError> {
    state_dir(&s.state_dir)?;
    let audit = s.state_dir.join(crate::audit::FILE_NAME);
    regular_file("audit log", &audit, true)?;
    regular_file(
        "rotated audit log",
        &crate::audit::rotated_path(&audit),
        false,
    )?;
    regular_file(
        "dataset backup",
        &s.state_dir.join(crate::state::DATASET_FILE),
        false,
    )?;
    control_socket(&s.control_socket)
}

/// The state directory exists (or is created, mode 0700), is a directory, and takes a file.
fn state_dir(dir: &Path) -> Result<(), PathError> {
    const KEY: &str = "state_dir";
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(wrong_kind(
                KEY,
                dir,
                "exists and is not a directory (the dataset backup and the audit log go there); \
                 remove it or choose another state_dir",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(KEY, dir, "create the directory", &e))?,
        Err(e) => return Err(io_error(KEY, dir, "read the directory", &e)),
    }
    // Write a probe file: the directory's mode bits do not tell (root, ACLs, read-only mounts).
    let probe = dir.join(format!(".write-test.{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"x"));
    let _ = fs::remove_file(&probe);
    written.map_err(|e| {
        io_error(
            KEY,
            dir,
            "write in it (the dataset backup and the audit log go there)",
            &e,
        )
    })
}

/// `path` is missing or a regular file; with `append`, one that can be opened for appending.
fn regular_file(key: &'static str, path: &Path, append: bool) -> Result<(), PathError> {
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(key, path, "read it", &e)),
        Ok(m) if !m.is_file() => Err(wrong_kind(
            key,
            path,
            "exists and is not a regular file; remove it",
        )),
        Ok(_) if append => fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| io_error(key, path, "open it for appending", &e)),
        Ok(_) => fs::File::open(path)
            .map(drop)
            .map_err(|e| io_error(key, path, "read it", &e)),
    }
}

/// The control socket is missing or a socket, and its nearest existing ancestor is a directory.
fn control_socket(path: &Path) -> Result<(), PathError> {
    const KEY: &str = "control_socket";
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {}
        Ok(_) => {
            return Err(wrong_kind(
                KEY,
                path,
                "exists and is not a socket; remove it or choose another control_socket",
            ))
        }
        // Through a file: the ancestor walk below names it.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) => {}
        Err(e) => return Err(io_error(KEY, path, "look at it", &e)),
    }
    let mut dir: PathBuf = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    if dir.as_os_str().is_empty() {
        dir = PathBuf::from(".");
    }
    loop {
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(wrong_kind(
                    KEY,
                    path,
                    format!("{} is not a directory", dir.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
                _ => return Ok(()),
            },
            Err(e) => return Err(io_error(KEY, path, "look at its directory", &e)),
        }
    }
}
