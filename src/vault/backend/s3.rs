//! A vault in an S3-compatible bucket, through `object_store` (Apache
//! Arrow's; see `docs/architecture.md` for the choice), driven from a
//! private tokio runtime so that the rest of dmvault stays synchronous.
//!
//! Configuration comes from the standard AWS variables (`AWS_ENDPOINT_URL`,
//! `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_PROFILE`) and the AWS config files, never
//! from the command line. Requests are path-style (`endpoint/bucket/key`)
//! unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`. Failed requests are
//! retried with exponential backoff (object_store's `RetryConfig`: up to
//! 10 retries within 3 minutes, for idempotent requests).

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::MultipartStore;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};

use super::{Backend, Payload, Put};

/// Files larger than twice this are uploaded in parts of this size.
const PART: usize = 8 << 20;

/// A bucket and a prefix in it.
pub struct S3Backend {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    journal: Journal,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn store_error(e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

impl S3Backend {
    /// Connects to `s3://bucket/prefix` with the environment's settings.
    ///
    /// # Errors
    /// When the settings are incomplete (no region, no credentials) or the
    /// runtime cannot start.
    pub fn new(bucket: &str, prefix: &str) -> io::Result<S3Backend> {
        S3Backend::with_settings(bucket, prefix, &[])
    }

    /// As [`S3Backend::new`], with `settings` (object_store's names:
    /// `aws_endpoint`, `aws_access_key_id`, …) over the environment's.
    ///
    /// # Errors
    /// As [`S3Backend::new`]; an unknown setting name.
    pub fn with_settings(
        bucket: &str,
        prefix: &str,
        settings: &[(&str, &str)],
    ) -> io::Result<S3Backend> {
        install_crypto();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (k, v) in settings {
            let key: object_store::aws::AmazonS3ConfigKey = k
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
            builder = builder.with_config(key, *v);
        }
        builder = super::awsconfig::apply_profile(builder);
        let endpoint = builder
            .get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint)
            .unwrap_or_default();
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        if builder
            .get_config_value(&object_store::aws::AmazonS3ConfigKey::Region)
            .is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot reach s3://{bucket}: {e}; set AWS_ENDPOINT_URL, AWS_REGION and the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"),
            )
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let journal = Journal::for_vault(&endpoint, bucket, prefix);
        Ok(S3Backend {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            runtime,
            journal,
        })
    }

    fn path(&self, key: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(key)
        } else {
            StorePath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn key_of(&self, path: &StorePath) -> String {
        let p = path.as_ref();
        if self.prefix.is_empty() {
            p.to_owned()
        } else {
            p.strip_prefix(&self.prefix)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(p)
                .to_owned()
        }
    }

    fn create(&self, key: &str, bytes: Vec<u8>) -> io::Result<Put> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let path = self.path(key);
        let put = self.store.put_opts(&path, PutPayload::from(bytes), opts);
        match self.runtime.block_on(put) {
            Ok(_) => Ok(Put::Created),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Put::Existed),
            Err(e) => Err(store_error(e)),
        }
    }

    /// A large file in parts, four at once. The upload's id is noted in
    /// a local journal until it completes or is aborted, so that a run
    /// killed midway leaves nothing open for long: the next writer on this
    /// machine aborts it ([`Backend::abort_stale_uploads`]). Completions
    /// are not conditional: the caller looked first, and such files are
    /// objects, whose name is their content.
    fn upload_file(&self, key: &str, file: &std::path::Path) -> io::Result<Put> {
        let size = std::fs::metadata(file)?.len();
        let parts = usize::try_from(size.div_ceil(PART as u64)).unwrap_or(usize::MAX);
        let path = self.path(key);
        let id = self
            .runtime
            .block_on(self.store.create_multipart(&path))
            .map_err(store_error)?;
        let note = self.journal.note(key, &id)?;
        let result = self.runtime.block_on(async {
            let f = std::sync::Mutex::new(std::fs::File::open(file)?);
            let read = |i: usize| -> io::Result<PutPayload> {
                use std::io::{Seek, SeekFrom};
                let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                f.seek(SeekFrom::Start(i as u64 * PART as u64))?;
                let mut buf = Vec::with_capacity(PART);
                (&mut *f).take(PART as u64).read_to_end(&mut buf)?;
                Ok(PutPayload::from(buf))
            };
            let uploads = futures::stream::iter(0..parts).map(|i| {
                let data = read(i);
                let path = &path;
                let id = &id;
                async move {
                    let part = self
                        .store
                        .put_part(path, id, i, data?)
                        .await
                        .map_err(store_error)?;
                    crate::fault::point("upload-part");
                    Ok::<_, io::Error>(part)
                }
            });
            let done: Vec<_> = uploads.buffered(4).try_collect().await?;
            self.store
                .complete_multipart(&path, &id, done)
                .await
                .map_err(store_error)
        });
        if result.is_err() {
            let _ = self
                .runtime
                .block_on(self.store.abort_multipart(&path, &id));
        }
        self.journal.done(&note);
        result.map(|_| Put::Created)
    }
}

/// rustls with the `ring` provider (no C build of aws-lc), once.
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Backend for S3Backend {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn put_if_absent(&self, key: &str, data: Payload<'_>) -> io::Result<Put> {
        // Look first: some stores ignore conditional puts and overwrite.
        if self.stat(key)?.is_some() {
            return Ok(Put::Existed);
        }
        match data {
            Payload::Bytes(b) => self.create(key, b.to_vec()),
            Payload::File(p) => {
                let size = std::fs::metadata(p)?.len();
                if size > 2 * PART as u64 {
                    self.upload_file(key, p)
                } else {
                    self.create(key, std::fs::read(p)?)
                }
            }
        }
    }

    fn put_replace(&self, key: &str, data: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let put = self.store.put(&path, PutPayload::from(data.to_vec()));
        self.runtime.block_on(put).map(|_| ()).map_err(store_error)
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> io::Result<Vec<u8>> {
        let start = range.start;
        let opts = GetOptions {
            range: Some(if range.end == u64::MAX {
                GetRange::Offset(range.start)
            } else {
                GetRange::Bounded(range)
            }),
            ..GetOptions::default()
        };
        let path = self.path(key);
        let got = self.runtime.block_on(async {
            match self.store.get_opts(&path, opts).await {
                Ok(r) => r.bytes().await.map(|b| b.to_vec()).map_err(store_error),
                Err(object_store::Error::NotModified { .. }) => Ok(Vec::new()),
                Err(e) => Err(store_error(e)),
            }
        });
        match got {
            // A range from the file's end (S3 answers 416): nothing to read.
            Err(e) if start > 0 && e.kind() != io::ErrorKind::NotFound => match self.stat(key)? {
                Some(size) if start >= size => Ok(Vec::new()),
                _ => Err(e),
            },
            other => other,
        }
    }

    fn stat(&self, key: &str) -> io::Result<Option<u64>> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.head(&path)) {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<(String, u64)>> {
        // object_store lists by whole path segments: list the folder the
        // prefix lies in, then keep what starts with it.
        let (dir, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let base = if dir.is_empty() {
            (!self.prefix.is_empty()).then(|| StorePath::from(self.prefix.as_str()))
        } else {
            Some(self.path(dir))
        };
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(base.as_ref()).try_collect())
            .map_err(store_error)?;
        let mut out: Vec<(String, u64)> = metas
            .into_iter()
            .map(|m| (self.key_of(&m.location), m.size))
            .filter(|(k, _)| k.starts_with(prefix))
            .collect();
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key);
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    fn abort_stale_uploads(&self, forget: bool) -> io::Result<usize> {
        let mut aborted = 0;
        for (note, key, id) in self.journal.open_uploads() {
            let path = self.path(&key);
            match self
                .runtime
                .block_on(self.store.abort_multipart(&path, &id))
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    if forget {
                        self.journal.done(&note);
                    }
                    aborted += 1;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Ok(aborted)
    }
}

/// The multipart uploads this machine started on one vault and has not
/// finished: a file per upload in `$XDG_CACHE_HOME/dmvault/uploads/<vault
/// location hash>/` (the upload id and key are no secret; nothing of the
/// content is in it).
#[derive(Debug)]
struct Journal {
    dir: std::path::PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OpenUpload {
    key: String,
    id: String,
}

impl Journal {
    fn for_vault(endpoint: &str, bucket: &str, prefix: &str) -> Journal {
        let place = blake3::hash(format!("{endpoint}\n{bucket}\n{prefix}").as_bytes());
        Journal {
            dir: crate::vault::place::cache_dir()
                .join("uploads")
                .join(&place.to_hex()[..16]),
        }
    }

    fn note(&self, key: &str, id: &str) -> io::Result<std::path::PathBuf> {
        crate::vault::fsutil::create_private_dir(&self.dir)?;
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).map_err(|e| io::Error::other(e.to_string()))?;
        let note = self
            .dir
            .join(format!("{}.json", crate::vault::keys::hex(&r)));
        let body = serde_json::to_vec(&OpenUpload {
            key: key.into(),
            id: id.into(),
        })?;
        crate::vault::fsutil::write_new_private(&note, &body)?;
        Ok(note)
    }

    fn done(&self, note: &std::path::Path) {
        let _ = std::fs::remove_file(note);
    }

    fn open_uploads(&self) -> Vec<(std::path::PathBuf, String, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let u: OpenUpload = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
                Some((e.path(), u.key, u.id))
            })
            .collect()
    }
}
