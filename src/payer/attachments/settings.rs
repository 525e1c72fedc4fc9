//! The `[attachments]` settings: where each photo and letter URI is fetched from, and the limits
//! that hold a request's documents and the worker's memory in bounds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// 20 MiB: a phone's full-resolution photo or a scanned letter, with room.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;
/// 32 MiB of documents in one request (about 43 MiB once base64-encoded in the bundle).
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 32 * 1024 * 1024;
/// 256 MiB of documents held by all the requests of one worker at once.
pub const DEFAULT_MAX_BYTES_IN_FLIGHT: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// The largest single photo or letter, in bytes: a larger one rejects the case, naming it.
    #[serde(default = "default_max_attachment")]
    pub max_attachment_bytes: u64,
    /// The most document bytes one request may carry.
    #[serde(default = "default_max_request")]
    pub max_request_bytes: u64,
    /// The most memory the documents of all requests in flight may hold at once: each request
    /// counts its documents' bytes and their base64 (7/3 of the bytes) and waits for room before
    /// it fetches. At least `max_request_bytes`; a request larger than the budget runs alone.
    #[serde(default = "default_max_in_flight")]
    pub max_bytes_in_flight: u64,
    /// How long one fetch (a store's answer and the whole body) may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The stores, by a name of the operator's choosing. A URI is served by the source whose
    /// `prefix` it starts with (the longest such prefix).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSettings>,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            max_attachment_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_bytes_in_flight: DEFAULT_MAX_BYTES_IN_FLIGHT,
            timeout: default_timeout(),
            sources: BTreeMap::new(),
        }
    }
}

fn default_max_attachment() -> u64 {
    DEFAULT_MAX_ATTACHMENT_BYTES
}
fn default_max_request() -> u64 {
    DEFAULT_MAX_REQUEST_BYTES
}
fn default_max_in_flight() -> u64 {
    DEFAULT_MAX_BYTES_IN_FLIGHT
}
fn default_timeout() -> Duration {
    Duration::from_secs(15)
}

/// One store. The part of a URI after `prefix` is the document's key in the store.
/// (Unknown keys are refused by the store's own settings: serde cannot refuse them here, beside
/// the flattened store.)
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SourceSettings {
    /// The URI prefix this store serves, such as `pm://attachments/`.
    pub prefix: String,
    #[serde(flatten)]
    pub store: StoreSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StoreSettings {
    /// A local folder (or a mounted share): the key is a relative path under `root`. Absolute
    /// paths, `..` and symbolic links that lead out of `root` are refused.
    Folder {
        root: PathBuf,
        /// What kind of storage `root` is on, which decides how it is read.
        #[serde(default)]
        mount: FolderMount,
    },
    /// The practice-management system's document API: `GET {base_url}{key}` over HTTPS.
    Https(HttpsStoreSettings),
    /// S3-compatible object storage: the key is `{key_prefix}{key}` in `bucket`.
    S3(S3StoreSettings),
}

/// What kind of storage a folder store's root is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FolderMount {
    /// A disk of this machine: files are read on the thread that handles the case. A small
    /// file is read in less time than handing the read to another thread takes.
    #[default]
    Local,
    /// A network share (NFS, SMB, a FUSE mount) that can stall: each read runs on a thread of
    /// its own and is given up after `attachments.timeout`, so a stalled share delays the cases
    /// that need it (they wait for a retry) instead of the worker.
    Share,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsStoreSettings {
    /// Ends with `/`; the key is appended, each path segment percent-encoded.
    pub base_url: String,
    /// A file holding a bearer token (a static API key), sent as `Authorization: Bearer …`.
    pub token_file: Option<PathBuf>,
    /// OAuth client credentials instead of a static token: the token endpoint…
    pub token_url: Option<String>,
    /// …the client id…
    pub client_id: Option<String>,
    /// …the file holding the client secret…
    pub client_secret_file: Option<PathBuf>,
    /// …and the scope to ask for.
    pub scope: Option<String>,
    /// PEM certificates to trust besides the system's roots (a clinic's own certificate
    /// authority in front of its practice system).
    pub ca_file: Option<PathBuf>,
    /// Plain http, for a store on loopback in tests only.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3StoreSettings {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// An S3-compatible endpoint (MinIO, Ceph…); AWS when absent. Without `path_style` the
    /// endpoint is used as it is (virtual-hosted style), so it must already name the bucket
    /// (`https://bucket.store.example`); with `path_style`, `{endpoint}/{bucket}/{key}`.
    pub endpoint: Option<String>,
    /// Prepended to the key (a folder in the bucket), such as `clinic-7/`.
    #[serde(default)]
    pub key_prefix: String,
    /// Files holding the access key id and the secret access key. Without them the standard
    /// AWS variables and instance credentials are used.
    pub access_key_id_file: Option<PathBuf>,
    pub secret_access_key_file: Option<PathBuf>,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible stores need.
    #[serde(default)]
    pub path_style: bool,
    /// Plain http to the endpoint, for a store on loopback in tests only.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}
