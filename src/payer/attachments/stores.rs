//! The three kinds of document store, each through a well-kept client: a local folder through
//! `cap-std` (no path leaves the root, symbolic links included), an HTTPS document API through
//! `reqwest`, S3-compatible storage through `object_store`.
//!
//! A store answers two questions about a key: how large the document is (so the request can
//! reserve memory before it reads anything), and its bytes, read up to a cap.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use super::settings::{FolderMount, HttpsStoreSettings, S3StoreSettings, StoreSettings};
use crate::payer::pas::auth::{Credentials, TokenSource};

/// Why a store did not hand over a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// The store has no document under the key.
    NotFound,
    /// The key is not one this store may serve (outside the folder, not a plain path).
    Refused(&'static str),
    /// The document is larger than the cap it was read with.
    TooLarge,
    /// Worth trying again: unreachable, a timeout, 408, 429, 5xx, refused credentials.
    Unavailable(String),
}

/// How a folder store is read.
#[derive(Clone)]
pub(crate) enum FolderReads {
    /// On the thread handling the case, through a root held open for a while (a local disk,
    /// and every folder for `process`).
    InPlace(HeldRoot),
    /// On a blocking thread, the root opened for each read, given up after the timeout (a
    /// network share that can stall).
    Blocking(Duration),
}

/// How long a folder's root is read through one opened handle before it is opened again.
const ROOT_HELD_FOR: Duration = Duration::from_secs(1);

/// A folder's root, opened on first use and read through for up to [`ROOT_HELD_FOR`]: two
/// system calls a document fewer than opening it for every read. A directory mounted or moved
/// over the root is seen within that time, and at once by a read that would fail through the
/// held handle: a failed read is tried again through a freshly opened root before its answer
/// is given.
#[derive(Default, Clone)]
pub(crate) struct HeldRoot(Arc<std::sync::Mutex<Option<Opened>>>);

type Dir = cap_std::fs::Dir;

/// A root and when it was opened.
type Opened = (std::time::Instant, Arc<Dir>);

impl HeldRoot {
    /// Runs `f` on the root; if its answer `failed`, or no handle is held, runs it again on a
    /// root opened now (which is then held).
    fn with_root<T>(
        &self,
        root: &std::path::Path,
        f: impl Fn(&Dir) -> Result<T, StoreError>,
        failed: fn(&Result<T, StoreError>) -> bool,
    ) -> Result<T, StoreError> {
        if let Some(dir) = self.held() {
            let answer = f(&dir);
            if !failed(&answer) {
                return answer;
            }
        }
        let dir = Arc::new(open_root(root)?);
        let answer = f(&dir);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((std::time::Instant::now(), dir));
        answer
    }

    fn held(&self) -> Option<Arc<Dir>> {
        match &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((opened, dir)) if opened.elapsed() < ROOT_HELD_FOR => Some(Arc::clone(dir)),
            _ => None,
        }
    }
}

/// One configured store.
pub(crate) enum Store {
    /// A folder, read as [`FolderReads`] says.
    Folder {
        root: PathBuf,
        reads: FolderReads,
    },
    Https(Box<HttpsStore>),
    S3(Arc<dyn ObjectStore>, String),
}

pub(crate) struct HttpsStore {
    http: reqwest::Client,
    base: reqwest::Url,
    auth: HttpsAuth,
}

enum HttpsAuth {
    None,
    Bearer(SecretString),
    OAuth(TokenSource),
}

/// Why a store could not be built from its settings (a configuration error at start).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct StoreSettingError {
    pub key: String,
    pub message: String,
}

/// A key the stores accept: a relative path of plain segments (no empty, `.` or `..` segment,
/// no backslash or control character). Checked before any store sees it.
pub(crate) fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && key.len() <= 1024
        && !key.chars().any(|c| c == '\\' || c.is_control())
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

impl Store {
    /// Builds the store `name` (`attachments.sources.<name>`) from its settings.
    pub(crate) fn build(
        name: &str,
        settings: &StoreSettings,
        timeout: Duration,
    ) -> Result<Self, StoreSettingError> {
        let err = |k: &str, message: String| StoreSettingError {
            key: format!("attachments.sources.{name}.{k}"),
            message,
        };
        match settings {
            StoreSettings::Folder { root, mount } => Ok(Store::Folder {
                root: root.clone(),
                reads: match mount {
                    FolderMount::Local => FolderReads::InPlace(HeldRoot::default()),
                    FolderMount::Share => FolderReads::Blocking(timeout),
                },
            }),
            StoreSettings::Https(s) => https(s, timeout, &err).map(|h| Store::Https(Box::new(h))),
            StoreSettings::S3(s) => {
                let store = s3(s, timeout, &err)?;
                Ok(Store::S3(Arc::new(store), s.key_prefix.clone()))
            }
        }
    }

    /// The document's size in bytes, when the store tells it without sending the document.
    pub(crate) async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        checked(key)?;
        match self {
            Store::Folder { root, reads } => in_folder(root, key, reads, folder_size).await,
            Store::Https(h) => h.size(key).await,
            Store::S3(store, prefix) => {
                let path = object_path(prefix, key)?;
                let meta = store.head(&path).await.map_err(object_error)?;
                Ok(Some(meta.size))
            }
        }
    }

    /// The document's bytes, at most `cap` of them: a longer document is `TooLarge`.
    pub(crate) async fn fetch(&self, key: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        checked(key)?;
        match self {
            Store::Folder { root, reads } => {
                in_folder(root, key, reads, move |dir, key| folder_read(dir, key, cap)).await
            }
            Store::Https(h) => h.fetch(key, cap).await,
            Store::S3(store, prefix) => {
                let path = object_path(prefix, key)?;
                let meta = store.head(&path).await.map_err(object_error)?;
                if meta.size > cap {
                    return Err(StoreError::TooLarge);
                }
                read_version(store.as_ref(), &meta).await
            }
        }
    }
}

/// The bytes of the object version `meta` describes: if the object was replaced since, the
/// store answers 412 (If-Match on the ETag) and the read is worth trying again, never the first
/// `meta.size` bytes of another version.
pub(super) async fn read_version(
    store: &dyn ObjectStore,
    meta: &object_store::ObjectMeta,
) -> Result<Vec<u8>, StoreError> {
    if meta.size == 0 {
        // No range is valid over nothing (object_store refuses 0..0); the type check rejects it.
        return Ok(Vec::new());
    }
    let options = object_store::GetOptions {
        if_match: meta.e_tag.clone(),
        range: Some((0..meta.size).into()),
        ..Default::default()
    };
    let result = store
        .get_opts(&meta.location, options)
        .await
        .map_err(object_error)?;
    let bytes = result.bytes().await.map_err(object_error)?;
    if bytes.len() as u64 != meta.size {
        return Err(StoreError::Unavailable(
            "the object changed while it was read".to_owned(),
        ));
    }
    // Without a copy when the buffer is the only owner of its bytes.
    Ok(Vec::from(bytes))
}

/// Refuses a key that is not a [`plain_key`] before any store sees it.
fn checked(key: &str) -> Result<(), StoreError> {
    if plain_key(key) {
        Ok(())
    } else {
        Err(StoreError::Refused("the key is not a plain relative path"))
    }
}

fn folder_size(dir: &Dir, key: &str) -> Result<Option<u64>, StoreError> {
    let meta = dir.metadata(key).map_err(io_error)?;
    if !meta.is_file() {
        return Err(StoreError::NotFound);
    }
    Ok(Some(meta.len()))
}

fn folder_read(dir: &Dir, key: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
    let file = dir.open(key).map_err(io_error)?;
    // Room for exactly what the store said is there (and one byte more, to see a file that
    // grew): read_to_end through `take` would grow by doubling.
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(cap.saturating_add(1)).unwrap_or(0))
        .map_err(|_| StoreError::TooLarge)?;
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > cap {
        return Err(StoreError::TooLarge);
    }
    Ok(bytes)
}

/// The sizes of the documents of one case that live in folders, each folder's from one
/// blocking call (a thread hand-off costs more than reading a small file); `None` where the
/// store is not a folder. The same answers, one by one, as [`Store::size`].
pub(crate) async fn folder_sizes(
    asks: &[Option<(&Store, &str)>],
) -> Vec<Option<Result<Option<u64>, StoreError>>> {
    let asks: Vec<_> = asks.iter().map(|a| a.map(|(s, k)| (s, (k, 0)))).collect();
    per_folder(&asks, |dir, key, _| folder_size(dir, key)).await
}

/// The bytes of the documents of one case that live in folders, each up to its cap, each
/// folder's from one blocking call; `None` where the store is not a folder. The same answers,
/// one by one, as [`Store::fetch`].
pub(crate) async fn folder_reads(
    asks: &[Option<(&Store, &str, u64)>],
) -> Vec<Option<Result<Vec<u8>, StoreError>>> {
    let asks: Vec<_> = asks
        .iter()
        .map(|a| a.map(|(s, k, cap)| (s, (k, cap))))
        .collect();
    per_folder(&asks, folder_read).await
}

/// One document asked of a folder: its position among the asks, its key and its cap.
type FolderAsk = (usize, String, u64);

/// Answers every ask whose store is a folder with `one`, each folder's in one go: in place, or
/// in one blocking call for a share.
async fn per_folder<T: Send + 'static>(
    asks: &[Option<(&Store, (&str, u64))>],
    one: fn(&Dir, &str, u64) -> Result<T, StoreError>,
) -> Vec<Option<Result<T, StoreError>>> {
    let mut out: Vec<Option<Result<T, StoreError>>> = asks.iter().map(|_| None).collect();
    // The folders asked about, in order, with the positions and keys asked of each.
    let mut folders: Vec<(PathBuf, FolderReads, Vec<FolderAsk>)> = Vec::new();
    for (i, ask) in asks.iter().enumerate() {
        let Some((Store::Folder { root, reads }, (key, cap))) = ask else {
            continue;
        };
        if let Err(e) = checked(key) {
            out[i] = Some(Err(e));
            continue;
        }
        let entry = (i, (*key).to_owned(), *cap);
        match folders.iter_mut().find(|(r, _, _)| r == root) {
            Some((_, _, keys)) => keys.push(entry),
            None => folders.push((root.clone(), reads.clone(), vec![entry])),
        }
    }
    for (root, reads, keys) in folders {
        let positions: Vec<usize> = keys.iter().map(|(i, _, _)| *i).collect();
        let failed = |e: StoreError, n: usize| (0..n).map(|_| Err(e.clone())).collect::<Vec<_>>();
        let all = move |dir: &Dir| -> Result<Vec<Result<T, StoreError>>, StoreError> {
            Ok(keys
                .iter()
                .map(|(_, key, cap)| one(dir, key, *cap))
                .collect())
        };
        let any_failed = |answers: &Result<Vec<Result<T, StoreError>>, StoreError>| {
            answers
                .as_ref()
                .map_or(true, |all| all.iter().any(Result::is_err))
        };
        let answers = on_folder(&root, &reads, all, any_failed)
            .await
            .unwrap_or_else(|e| failed(e, positions.len()));
        for (i, answer) in positions.into_iter().zip(answers) {
            out[i] = Some(answer);
        }
    }
    out
}

/// Runs `f` on the folder `root`, opened as a capability, and `key`, as `reads` says.
async fn in_folder<T: Send + 'static>(
    root: &std::path::Path,
    key: &str,
    reads: &FolderReads,
    f: impl Fn(&Dir, &str) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let key = key.to_owned();
    on_folder(root, reads, move |dir| f(dir, &key), Result::is_err).await
}

/// Runs `f` on the folder `root`, opened as a capability: on this thread (tried again on a
/// freshly opened root when its answer `failed`), or on a blocking one for at most its timeout.
/// A read given up on is left to finish on its thread; its answer is dropped.
async fn on_folder<T: Send + 'static>(
    root: &std::path::Path,
    reads: &FolderReads,
    f: impl Fn(&Dir) -> Result<T, StoreError> + Send + 'static,
    failed: fn(&Result<T, StoreError>) -> bool,
) -> Result<T, StoreError> {
    match reads {
        FolderReads::InPlace(held) => held.with_root(root, f, failed),
        FolderReads::Blocking(timeout) => {
            let root = root.to_owned();
            let read = tokio::task::spawn_blocking(move || f(&open_root(&root)?));
            match tokio::time::timeout(*timeout, read).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(StoreError::Unavailable(
                    "the folder read stopped".to_owned(),
                )),
                Err(_) => Err(StoreError::Unavailable(format!(
                    "the share did not answer within {} ms",
                    timeout.as_millis()
                ))),
            }
        }
    }
}

fn open_root(root: &std::path::Path) -> Result<Dir, StoreError> {
    cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(|e| {
        // A missing or unreadable root is the deployment's problem (a share not mounted yet),
        // not the case's: worth trying again. The path is configuration, not case data.
        StoreError::Unavailable(format!(
            "the attachment folder cannot be opened ({})",
            e.kind()
        ))
    })
}

fn io_error(e: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory => {
            StoreError::NotFound
        }
        // cap-std's answer to a path or a symbolic link that leads out of the root.
        ErrorKind::PermissionDenied => StoreError::Refused("the path leads out of the folder"),
        kind => StoreError::Unavailable(format!("the attachment folder failed to read ({kind})")),
    }
}

fn object_path(prefix: &str, key: &str) -> Result<ObjectPath, StoreError> {
    ObjectPath::parse(format!("{prefix}{key}"))
        .map_err(|_| StoreError::Refused("the key is not a valid object name"))
}

fn object_error(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound,
        object_store::Error::InvalidPath { .. } => {
            StoreError::Refused("the key is not a valid object name")
        }
        object_store::Error::Precondition { .. } => {
            StoreError::Unavailable("the object changed while it was read".to_owned())
        }
        // Never the error's own text: it carries the request URL, and so the key, which is a
        // piece of the case's URI.
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            StoreError::Unavailable("object storage refused the credentials".to_owned())
        }
        _ => StoreError::Unavailable("object storage request failed".to_owned()),
    }
}

fn secret_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err("the file is empty".to_owned());
    }
    Ok(text)
}

fn https(
    s: &HttpsStoreSettings,
    timeout: Duration,
    err: &dyn Fn(&str, String) -> StoreSettingError,
) -> Result<HttpsStore, StoreSettingError> {
    let base =
        reqwest::Url::parse(&s.base_url).map_err(|e| err("base_url", format!("not a URL: {e}")))?;
    match base.scheme() {
        "https" => {}
        "http" if s.allow_insecure_http => {}
        _ => {
            return Err(err(
                "base_url",
                "must be https:// (allow_insecure_http is for tests on loopback)".to_owned(),
            ))
        }
    }
    if !base.path().ends_with('/') {
        return Err(err("base_url", "must end with /".to_owned()));
    }
    // No redirects: the token would follow the request to another host.
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!s.allow_insecure_http)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("preauth-worker/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &s.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| err("ca_file", format!("cannot read it: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| err("ca_file", format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(err("ca_file", "holds no certificate".to_owned()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    let http = builder
        .build()
        .map_err(|e| err("base_url", format!("cannot build the HTTP client: {e}")))?;
    let auth = match (&s.token_file, &s.token_url) {
        (Some(_), Some(_)) => {
            return Err(err(
                "token_file",
                "set token_file or token_url, not both".to_owned(),
            ))
        }
        (Some(path), None) => HttpsAuth::Bearer(SecretString::from(
            secret_file(path).map_err(|m| err("token_file", m))?,
        )),
        (None, Some(url)) => {
            let (Some(id), Some(secret)) = (&s.client_id, &s.client_secret_file) else {
                return Err(err(
                    "token_url",
                    "needs client_id and client_secret_file".to_owned(),
                ));
            };
            let credentials = Credentials::secret_from_file(id, secret)
                .map_err(|e| err("client_secret_file", e.to_string()))?;
            HttpsAuth::OAuth(TokenSource::new(
                http.clone(),
                url.clone(),
                s.scope.clone(),
                credentials,
            ))
        }
        (None, None) => HttpsAuth::None,
    };
    Ok(HttpsStore { http, base, auth })
}

fn s3(
    s: &S3StoreSettings,
    timeout: Duration,
    err: &dyn Fn(&str, String) -> StoreSettingError,
) -> Result<object_store::aws::AmazonS3, StoreSettingError> {
    use object_store::aws::AmazonS3Builder;
    use object_store::{ClientOptions, RetryConfig};
    let options = ClientOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(timeout.min(Duration::from_secs(10)))
        .with_allow_http(s.allow_insecure_http);
    // One quick retry inside the client; the worker's own tiers do the rest.
    let retry = RetryConfig {
        max_retries: 1,
        retry_timeout: timeout,
        ..RetryConfig::default()
    };
    if let Some(endpoint) = &s.endpoint {
        let host = reqwest::Url::parse(endpoint)
            .map_err(|e| err("endpoint", format!("not a URL: {e}")))?
            .host_str()
            .unwrap_or_default()
            .to_owned();
        // Virtual-hosted requests go to the endpoint as given: without the bucket in its host
        // they would reach no bucket at all.
        if !s.path_style && !host.starts_with(&format!("{}.", s.bucket)) {
            return Err(err(
                "path_style",
                "an endpoint without the bucket in its host needs path_style = true (most S3-compatible stores)".to_owned(),
            ));
        }
    }
    let builder = match (&s.access_key_id_file, &s.secret_access_key_file) {
        (Some(id), Some(secret)) => AmazonS3Builder::new()
            .with_access_key_id(secret_file(id).map_err(|m| err("access_key_id_file", m))?)
            .with_secret_access_key(
                secret_file(secret).map_err(|m| err("secret_access_key_file", m))?,
            ),
        // The standard AWS environment variables and instance credentials.
        (None, None) => AmazonS3Builder::from_env(),
        _ => {
            return Err(err(
                "access_key_id_file",
                "set both access_key_id_file and secret_access_key_file, or neither".to_owned(),
            ))
        }
    };
    // The same client either way: timeouts, the one quick retry, the addressing style.
    let mut builder = builder
        .with_bucket_name(&s.bucket)
        .with_region(&s.region)
        .with_client_options(options)
        .with_retry(retry)
        .with_virtual_hosted_style_request(!s.path_style);
    if let Some(endpoint) = &s.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    builder
        .build()
        .map_err(|e| err("bucket", format!("cannot build the S3 client: {e}")))
}

impl HttpsStore {
    fn url(&self, key: &str) -> Result<reqwest::Url, StoreError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| StoreError::Refused("the store's base URL takes no path"))?;
            segments.pop_if_empty();
            // Each segment percent-encoded by the url crate: a key cannot change the host or
            // climb out of the base path (plain_key has refused `.` and `..`).
            segments.extend(key.split('/'));
        }
        Ok(url)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
    ) -> Result<reqwest::Response, StoreError> {
        let url = self.url(key)?;
        let mut retried = false;
        loop {
            let mut request = self.http.request(method.clone(), url.clone());
            match &self.auth {
                HttpsAuth::None => {}
                HttpsAuth::Bearer(token) => request = request.bearer_auth(token.expose_secret()),
                HttpsAuth::OAuth(source) => {
                    let token = source
                        .token()
                        .await
                        .map_err(|e| StoreError::Unavailable(format!("document store: {e}")))?;
                    request = request.bearer_auth(token.expose_secret());
                }
            }
            let response = request.send().await.map_err(|e| {
                StoreError::Unavailable(if e.is_timeout() {
                    "the document store did not answer in time".to_owned()
                } else {
                    format!("the document store is unreachable: {}", e.without_url())
                })
            })?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !retried {
                if let HttpsAuth::OAuth(source) = &self.auth {
                    // The token may have been revoked early: one fresh token, once.
                    source.invalidate().await;
                    retried = true;
                    continue;
                }
            }
            return match status {
                s if s.is_success() => Ok(response),
                StatusCode::NOT_FOUND | StatusCode::GONE => Err(StoreError::NotFound),
                s if s.is_server_error()
                    || s == StatusCode::TOO_MANY_REQUESTS
                    || s == StatusCode::REQUEST_TIMEOUT
                    || s == StatusCode::UNAUTHORIZED
                    || s == StatusCode::FORBIDDEN =>
                {
                    // 401/403 are the deployment's credentials, not the case: retried, then
                    // failed with this reason if they stay refused.
                    Err(StoreError::Unavailable(format!(
                        "the document store answered {}",
                        s.as_u16()
                    )))
                }
                _ => Err(StoreError::Refused(
                    "the document store refused the request",
                )),
            };
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.send(reqwest::Method::HEAD, key).await {
            Ok(r) => Ok(r
                .headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            // A store that does not answer HEAD: the size is learnt while reading.
            Err(StoreError::Refused(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fetch(&self, key: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        let mut response = self.send(reqwest::Method::GET, key).await?;
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(StoreError::TooLarge);
        }
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(cap) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > cap {
                        return Err(StoreError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "the document store's answer was cut off: {}",
                        e.without_url()
                    )))
                }
            }
        }
    }
}
