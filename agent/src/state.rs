//! The agent's state directory: the active operational dataset backup `dataset.tlvs`.
//!
//! Format: the raw MeshCoP dataset TLVs as lowercase hex text on one line (the same text
//! `threadctl dataset export` prints and `ot-cli`'s `dataset set active <hex>` takes).
//!
//! Guarantees: the file is created with mode 0600 from the start (never world-readable, not even
//! briefly) and replaced atomically: written to a temporary file in the same directory, fsynced,
//! then renamed over the old one, then the directory is fsynced. A crash leaves either the old or
//! the new backup, never a torn one. The state directory is created with mode 0700 if missing.
//! Reading tolerates surrounding whitespace and rejects anything that is not hex, or hex that does
//! not decode as a dataset with every TLV a node needs to attach ([`REQUIRED`]); the error names
//! the file, so a truncated backup is reported as such instead of reaching the co-processor (which
//! would only answer `InvalidArgument`).
//!
//! Validated by the unit tests below (mode, content, no temporary file left behind).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the dataset backup inside the state directory.
pub(crate) const DATASET_FILE: &str = "dataset.tlvs";

/// File name of the pending dataset backup (present only while a change is scheduled).
pub(crate) const PENDING_FILE: &str = "pending.tlvs";

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("state directory {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("dataset backup {path} is not hex text: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("dataset backup {path} is not a usable active dataset: {reason}; restore it from a copy (`threadctl dataset export` output) or remove it to form a new network")]
    Invalid { path: String, reason: String },
}

/// The TLVs a backup must have: what a node needs to attach to the network.
pub(crate) const REQUIRED: &[&str] = &[
    "Active Timestamp",
    "Channel",
    "PAN ID",
    "Extended PAN ID",
    "Network Name",
    "Network Key",
    "Mesh-Local Prefix",
];

/// Decodes `tlvs` as an active dataset and requires [`REQUIRED`]; the reason if not.
pub(crate) fn validate_dataset(tlvs: &[u8]) -> Result<(), String> {
    let ds = meshcop::dataset::Dataset::decode(tlvs)
        .map_err(|e| format!("the TLVs do not decode ({e})"))?;
    let present = [
        ds.active_timestamp.is_some(),
        ds.channel.is_some(),
        ds.pan_id.is_some(),
        ds.ext_pan_id.is_some(),
        ds.network_name.is_some(),
        ds.network_key.is_some(),
        ds.mesh_local_prefix.is_some(),
    ];
    if let Some(name) = ds.network_name.as_deref() {
        if name.is_empty() || name.len() > meshcop::dataset::NETWORK_NAME_MAX_LEN {
            return Err(format!(
                "its Network Name is {} bytes long (Thread allows 1..{})",
                name.len(),
                meshcop::dataset::NETWORK_NAME_MAX_LEN
            ));
        }
    }
    if let Some(c) = ds.channel.filter(|c| !(11..=26).contains(c)) {
        return Err(format!("its Channel {c} is not a Thread channel (11..26)"));
    }
    if ds.pan_id == Some(0xffff) {
        return Err("its PAN ID is 0xffff, the broadcast PAN ID".into());
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .zip(present)
        .filter(|(_, p)| !p)
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("it lacks the {} TLV", missing.join(", ")))
    }
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
        let Some(tlvs) = self.read_hex(&path)? else {
            return Ok(None);
        };
        validate_dataset(&tlvs).map_err(|reason| StateError::Invalid {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(Some(tlvs.to_vec()))
    }

    /// Reads a file of hex text (surrounding whitespace ignored); `Ok(None)` if it is missing or
    /// empty, [`StateError::Corrupt`] if it is not hex. The text is wiped once read.
    fn read_hex(&self, path: &Path) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StateError> {
        let text = zeroize::Zeroizing::new(match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(path, e)),
        });
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let tlvs = hex::decode(text).map_err(|e| StateError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Some(zeroize::Zeroizing::new(tlvs)))
    }

    /// Writes the dataset backup atomically with mode 0600.
    pub(crate) fn write_dataset(&self, tlvs: &[u8]) -> Result<(), StateError> {
        self.write_hex(&self.dataset_path(), tlvs)
    }

    /// Writes `tlvs` as one line of hex to `path`, atomically, mode 0600; the text is wiped.
    fn write_hex(&self, path: &Path, tlvs: &[u8]) -> Result<(), StateError> {
        self.ensure()?;
        let mut text = hex::encode(tlvs);
        text.push('\n');
        let result = write_atomic(path, text.as_bytes(), 0o600);
        zeroize::Zeroize::zeroize(&mut text);
        result.map_err(|e| self.err(path, e))
    }

    /// Path of the pending dataset backup.
    pub(crate) fn pending_path(&self) -> PathBuf {
        self.dir.join(PENDING_FILE)
    }

    /// Writes the pending dataset backup (hex, 0600, atomic; its mtime is when the Delay Timer
    /// value inside was read).
    pub(crate) fn write_pending(&self, tlvs: &[u8]) -> Result<(), StateError> {
        self.write_hex(&self.pending_path(), tlvs)
    }

    /// Removes the pending dataset backup (absent is fine).
    pub(crate) fn remove_pending(&self) -> Result<(), StateError> {
        match fs::remove_file(self.pending_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(&self.pending_path(), e)),
        }
    }

    /// Removes the active dataset backup (absent is fine): the REST API's factory reset.
    pub(crate) fn remove_dataset(&self) -> Result<(), StateError> {
        match fs::remove_file(self.dataset_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(&self.dataset_path(), e)),
        }
    }

    /// Reads the pending dataset backup and how long ago it was written; `Ok(None)` if there is
    /// none. A file that is not hex or does not decode is an error naming it.
    pub(crate) fn read_pending(
        &self,
    ) -> Result<Option<(Vec<u8>, std::time::Duration)>, StateError> {
        let path = self.pending_path();
        let Some(tlvs) = self.read_hex(&path)? else {
            return Ok(None);
        };
        let age = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        meshcop::dataset::Dataset::decode(&tlvs).map_err(|e| StateError::Invalid {
            path: path.display().to_string(),
            reason: format!("the TLVs do not decode ({e})"),
        })?;
        Ok(Some((tlvs.to_vec(), age)))
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
        let a = crate::network::generate_dataset("A", 11).unwrap();
        let b = crate::network::generate_dataset("B", 12).unwrap();
        st.write_dataset(&a).unwrap();
        let meta = fs::metadata(st.dataset_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(st.dataset_path()).unwrap(),
            format!("{}\n", hex::encode(a.as_slice()))
        );
        assert_eq!(st.read_dataset().unwrap(), Some(a.to_vec()));
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
        st.write_dataset(&b).unwrap();
        let meta = fs::metadata(st.dataset_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // A rename gives a new inode: the old file was never rewritten in place.
        assert_ne!(std::os::unix::fs::MetadataExt::ino(&meta), ino_before);
        let names: Vec<_> = fs::read_dir(d.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(DATASET_FILE)]);
        assert_eq!(st.read_dataset().unwrap(), Some(b.to_vec()));
    }

    #[test]
    fn truncated_or_incomplete_backup_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let st = StateDir::new(d.path());
        let full = crate::network::generate_dataset("Full", 15).unwrap();
        // Cut anywhere: a TLV's length runs past the end, or a required TLV is missing.
        for cut in [1, 2, full.len() / 2, full.len() - 1] {
            fs::write(st.dataset_path(), hex::encode(&full[..cut])).unwrap();
            let e = st.read_dataset().unwrap_err();
            assert!(matches!(e, StateError::Invalid { .. }), "{cut}: {e}");
            let m = e.to_string();
            assert!(m.contains(&st.dataset_path().display().to_string()), "{m}");
        }
        // Well-formed TLVs without the network key.
        let mut ds = meshcop::dataset::Dataset::decode(&full).unwrap();
        ds.network_key = None;
        fs::write(st.dataset_path(), hex::encode(ds.encode())).unwrap();
        let m = st.read_dataset().unwrap_err().to_string();
        assert!(
            m.contains("Network Key") && m.contains("dataset.tlvs"),
            "{m}"
        );
        // Values a network cannot have.
        for (mutate, what) in [
            (
                Box::new(|d: &mut meshcop::dataset::Dataset| {
                    d.network_name = Some("ImportedElsewhere".into())
                }) as Box<dyn Fn(&mut meshcop::dataset::Dataset)>,
                "Network Name",
            ),
            (
                Box::new(|d: &mut meshcop::dataset::Dataset| d.channel = Some(27)),
                "Channel 27",
            ),
            (
                Box::new(|d: &mut meshcop::dataset::Dataset| d.pan_id = Some(0xffff)),
                "0xffff",
            ),
        ] {
            let mut ds = meshcop::dataset::Dataset::decode(&full).unwrap();
            mutate(&mut ds);
            let m = validate_dataset(&ds.encode()).unwrap_err();
            assert!(m.contains(what), "{m}");
        }
        // Garbage of any kind never panics.
        for junk in ["00", "ffff", "0e", "0e08", "000100"] {
            fs::write(st.dataset_path(), junk).unwrap();
            assert!(st.read_dataset().is_err(), "{junk}");
        }
    }

    #[test]
    fn pending_backup_is_0600_and_removable() {
        let d = tempfile::tempdir().unwrap();
        let st = StateDir::new(d.path());
        assert_eq!(st.read_pending().unwrap(), None);
        let p = crate::network::generate_dataset("P", 20).unwrap();
        st.write_pending(&p).unwrap();
        let mode = fs::metadata(st.pending_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (back, age) = st.read_pending().unwrap().unwrap();
        assert_eq!(back, p.to_vec());
        assert!(age < std::time::Duration::from_secs(60));
        st.remove_pending().unwrap();
        st.remove_pending().unwrap();
        assert_eq!(st.read_pending().unwrap(), None);
        for junk in ["zz", "0e08"] {
            fs::write(st.pending_path(), junk).unwrap();
            assert!(st.read_pending().is_err(), "{junk}");
        }
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
