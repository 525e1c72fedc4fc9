//! The deployment key: one secret shared by every process of a deployment (workers, `parked
//! replay`), used to authenticate what the worker writes for itself and reads back later: the
//! case state it carries in message headers. HMAC-SHA256, compared in constant time. (Payer
//! notifications are authenticated by the payer's own credential and matched by the Claim
//! identifier they answer; a notification decides nothing, see [`crate::notify`].)

use std::path::{Path, PathBuf};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The least key length accepted, in bytes.
pub(crate) const MIN_KEY_BYTES: usize = 32;

/// Why a deployment key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("security.key_file {path}: {message}")]
    File { path: String, message: String },
    /// The key kept in the local state folder (no `security.key_file`) cannot be read.
    #[error("the local deployment key {path}: {message}; set security.key_file to a key file of your own")]
    Local { path: String, message: String },
    #[error("no deployment key: the system random generator failed; set security.key_file")]
    NoRandomness,
}

/// What a tag authenticates: each purpose has its own domain, so a tag made for one can never
/// pass for another.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// The case state in a message's headers, bound to the message body.
    CaseState,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::CaseState => "preauth-worker case-state v1",
        }
    }
}

/// The deployment key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct DeploymentKey {
    key: hmac::Key,
    /// Where it came from, for the start-up line (never the key itself).
    pub origin: KeyOrigin,
}

/// Where the key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `security.key_file`.
    Configured(PathBuf),
    /// Created on first use in the local state folder because none was configured: good for one
    /// machine; several machines need the same key configured on each.
    Local(PathBuf),
    /// Random for this process only (tests, or no writable state folder).
    Ephemeral,
}

impl std::fmt::Debug for DeploymentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl DeploymentKey {
    /// The key from `bytes` (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(bytes: &[u8], origin: KeyOrigin) -> Option<Self> {
        (bytes.len() >= MIN_KEY_BYTES).then(|| Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            origin,
        })
    }

    /// A random key for this process only.
    pub(crate) fn ephemeral() -> Result<Self, KeyError> {
        let bytes = random_bytes().map_err(|_| KeyError::NoRandomness)?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            origin: KeyOrigin::Ephemeral,
        })
    }

    /// Reads the key file: its bytes, with a trailing line break taken off, at least 32 of them.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let err = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let trimmed = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        Self::from_bytes(trimmed, KeyOrigin::Configured(path.to_owned())).ok_or_else(|| {
            err(format!(
                "holds {} bytes; a deployment key needs at least {MIN_KEY_BYTES} random bytes (e.g. `head -c 48 /dev/urandom | base64 > FILE`)",
                trimmed.len()
            ))
        })
    }

    /// The configured key, else the local one (created, mode 0600, when missing), else a key
    /// for this process only.
    pub fn resolve(configured: Option<&Path>) -> Result<Self, KeyError> {
        if let Some(path) = configured {
            return Self::load(path);
        }
        let Some(path) = local_key_path() else {
            return Self::ephemeral();
        };
        if !path.exists() {
            if let Err(e) = create_key_file(&path) {
                tracing::warn!(path = %path.display(), "Cannot create the local deployment key ({e}); using a key for this process only.");
                return Self::ephemeral();
            }
        }
        let mut key = Self::load(&path).map_err(|e| match e {
            KeyError::File { path, message } => KeyError::Local { path, message },
            other => other,
        })?;
        key.origin = KeyOrigin::Local(path);
        Ok(key)
    }

    /// The tag of `parts` for `purpose`: base64url (no padding) of HMAC-SHA256 over the
    /// purpose label and the parts, each length-prefixed so no two inputs share a message.
    pub fn tag(&self, purpose: Purpose, parts: &[&[u8]]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in std::iter::once(purpose.label().as_bytes()).chain(parts.iter().copied()) {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
    }

    /// Whether `tag` is the tag of `parts` for `purpose` (constant time).
    pub(crate) fn verify(&self, purpose: Purpose, parts: &[&[u8]], tag: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(tag.as_bytes()) else {
            return false;
        };
        let mut msg = Vec::new();
        for part in std::iter::once(purpose.label().as_bytes()).chain(parts.iter().copied()) {
            msg.extend_from_slice(&(part.len() as u64).to_be_bytes());
            msg.extend_from_slice(part);
        }
        hmac::verify(&self.key, &msg, &given).is_ok()
    }
}

/// SHA-256 of `bytes`, for binding a tag to a message body.
pub(crate) fn digest(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Compares two secrets in constant time (notification credentials).
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn random_bytes() -> std::io::Result<[u8; 48]> {
    let mut bytes = [0u8; 48];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| std::io::Error::other("no randomness"))?;
    Ok(bytes)
}

/// `$XDG_STATE_HOME/preauth-worker/deployment.key`, or under `$HOME/.local/state`.
fn local_key_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("preauth-worker").join("deployment.key"))
}

/// Creates the key file whole or not at all: written under a name of this process's own, then
/// linked into place (a link never replaces a file: when another process made one first, that
/// one is used), so no reader ever sees a half-written key.
fn create_key_file(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let Some(dir) = path.parent() else {
        return Err(std::io::Error::other("the key path has no folder"));
    };
    std::fs::create_dir_all(dir)?;
    let mut nonce = [0u8; 9];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| std::io::Error::other("no randomness"))?;
    let tmp = dir.join(format!(".deployment.key.{}", URL_SAFE_NO_PAD.encode(nonce)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(URL_SAFE_NO_PAD.encode(random_bytes()?).as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> DeploymentKey {
        DeploymentKey::from_bytes(&[byte; 32], KeyOrigin::Ephemeral).expect("32 bytes")
    }

    #[test]
    fn a_tag_verifies_only_with_the_same_key_purpose_and_parts() {
        let k = key(7);
        let t = k.tag(Purpose::CaseState, &[b"a", b"bc"]);
        assert!(k.verify(Purpose::CaseState, &[b"a", b"bc"], &t));
        assert!(!k.verify(Purpose::CaseState, &[b"ab", b"c"], &t));
        assert!(!key(8).verify(Purpose::CaseState, &[b"a", b"bc"], &t));
        assert!(!k.verify(Purpose::CaseState, &[b"a", b"bc"], "not base64 !"));
        assert!(!k.verify(Purpose::CaseState, &[b"a", b"bc"], ""));
    }

    #[test]
    fn a_short_key_file_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, "short\n").expect("write");
        let err = DeploymentKey::load(&path)
            .expect_err("too short")
            .to_string();
        assert!(
            err.contains("security.key_file") && err.contains("32"),
            "{err}"
        );
        assert!(!err.contains("short\n"));
        std::fs::write(&path, [b'x'; 40]).expect("write");
        assert!(DeploymentKey::load(&path).is_ok());
    }

    #[test]
    fn processes_starting_together_share_one_whole_local_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/preauth-worker/deployment.key");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    create_key_file(&path).expect("created or found");
                    std::fs::read(&path).expect("readable")
                })
            })
            .collect();
        let keys: Vec<Vec<u8>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert!(keys
            .iter()
            .all(|k| k == &keys[0] && k.len() > MIN_KEY_BYTES));
        assert!(DeploymentKey::load(&path).is_ok());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let k = DeploymentKey::from_bytes(
            b"SECRET-KEY-MATERIAL-0123456789abcdef",
            KeyOrigin::Ephemeral,
        )
        .expect("key");
        assert!(!format!("{k:?}").contains("SECRET"));
    }
}
