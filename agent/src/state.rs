//! The agent's state directory: the active operational dataset backup `dataset.tlvs`.
//!
//! Format: the raw MeshCoP dataset TLVs as lowercase hex text on one line (the same text
//! `threadctl dataset export` prints and `ot-cli`'s `dataset set active <hex>` takes).
//!
//! Guarantees: the file is created with mode 0600 from the start (never world-readable, not even
//! briefly) and replaced atomically: written to a temporary file in the same directory, fsynced,
//! then renamed over the old one, then the directory is fsynced. A crash leaves either the old or
//! the new backup, never a torn one. The state directory is created with mode 0700 if missing.
//! Reading tolerates surrounding whitespace and rejects anything that is not hex.
//!
//! Validated by the unit tests below (mode, content, no temporary file left behind).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the dataset backup inside the state directory.
pub(crate) const DATASET_FILE: &str = "dataset.tlvs";

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("state directory {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("dataset backup {path} is not hex text: {reason}")]
    Corrupt { path: String, reason: String },
}

/// The state directory.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    /// Creates the directory (mode 0700) if it does not exist.
    pub(crate) fn ensure(&self) -> Result<(), StateError> {
        if self.dir.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| self.err(&self.dir, e))
    }

    /// Path of the dataset backup.
    pub(crate) fn dataset_path(&self) -> PathBuf {
        self.dir.join(DATASET_FILE)
    }

    /// Reads the dataset backup; `Ok(None)` if there is none (or it is empty).
    pub(crate) fn read_dataset(&self) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.dataset_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(&path, e)),
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        hex::decode(text)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Writes the dataset backup atomically with mode 0600.
    pub(crate) fn write_dataset(&self, tlvs: &[u8]) -> Result<(), StateError> {
        self.ensure()?;
        let mut text = hex::encode(tlvs);
        text.push('\n');
        let result = write_atomic(&self.dataset_path(), text.as_bytes(), 0o600);
        zeroize::Zeroize::zeroize(&mut text);
        result.map_err(|e| self.err(&self.dataset_path(), e))
    }

    fn err(&self, path: &Path, source: io::Error) -> StateError {
        StateError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Writes `contents` to `path` via a temporary file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        seq
    ));
    let _ = fs::remove_file(&tmp);
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have removed bits, never added any; make the mode exact anyway.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    let r = write();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_is_0600_hex_and_atomic() {
        let d = tempfile::tempdir().unwrap();
        let st = StateDir::new(d.path().join("state"));
        assert_eq!(st.read_dataset().unwrap(), None);
        st.write_dataset(&[0x0e, 0x08, 1, 2, 3]).unwrap();
        let meta = fs::metadata(st.dataset_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(st.dataset_path()).unwrap(),
            "0e08010203\n"
        );
        assert_eq!(st.read_dataset().unwrap(), Some(vec![0x0e, 0x08, 1, 2, 3]));
        let dir_mode = fs::metadata(d.path().join("state"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);

        // Replacing keeps the mode and leaves no temporary file behind.
        fs::set_permissions(st.dataset_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let ino_before =
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(st.dataset_path()).unwrap());
        st.write_dataset(&[0xaa]).unwrap();
        let meta = fs::metadata(st.dataset_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // A rename gives a new inode: the old file was never rewritten in place.
        assert_ne!(std::os::unix::fs::MetadataExt::ino(&meta), ino_before);
        let names: Vec<_> = fs::read_dir(d.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(DATASET_FILE)]);
        assert_eq!(st.read_dataset().unwrap(), Some(vec![0xaa]));
    }

    #[test]
    fn corrupt_backup_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let st = StateDir::new(d.path());
        fs::write(st.dataset_path(), "zz not hex").unwrap();
        assert!(matches!(st.read_dataset(), Err(StateError::Corrupt { .. })));
        fs::write(st.dataset_path(), "  \n").unwrap();
        assert_eq!(st.read_dataset().unwrap(), None);
    }
}
