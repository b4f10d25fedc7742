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
use std::sync::{Arc, OnceLock};

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};

use super::{Backend, Conditional, Payload, Put};

/// Files larger than this are uploaded in parts of this size.
const PART: usize = 16 << 20;

/// A bucket and a prefix in it.
pub struct S3Backend {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    conditional: OnceLock<Conditional>,
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
        Ok(S3Backend {
            store: Arc::new(store),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            runtime,
            conditional: OnceLock::new(),
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

    /// A large file in parts, several at once. Multipart completions are
    /// not conditional here: the caller looked first, and such files are
    /// objects, whose name is their content.
    fn upload_file(&self, key: &str, file: &std::path::Path) -> io::Result<Put> {
        let mut f = std::fs::File::open(file)?;
        let path = self.path(key);
        self.runtime.block_on(async {
            let upload = self.store.put_multipart(&path).await.map_err(store_error)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = w.abort().await;
                        return Err(e);
                    }
                };
                // Up to 4 parts in flight.
                w.wait_for_capacity(4).await.map_err(store_error)?;
                w.write(&buf[..n]);
            }
            w.finish().await.map_err(store_error)?;
            Ok(Put::Created)
        })
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
                if size > PART as u64 {
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
        let opts = GetOptions {
            range: Some(if range.end == u64::MAX {
                GetRange::Offset(range.start)
            } else {
                GetRange::Bounded(range)
            }),
            ..GetOptions::default()
        };
        let path = self.path(key);
        self.runtime.block_on(async {
            match self.store.get_opts(&path, opts).await {
                Ok(r) => r.bytes().await.map(|b| b.to_vec()).map_err(store_error),
                // A range starting at the end of the file.
                Err(object_store::Error::NotModified { .. }) => Ok(Vec::new()),
                Err(e) => Err(store_error(e)),
            }
        })
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

    /// Measured once: a probe key is created twice; a store that lets the
    /// second through ignores conditional puts.
    fn conditional_puts(&self) -> io::Result<Conditional> {
        if let Some(c) = self.conditional.get() {
            return Ok(*c);
        }
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| io::Error::other(e.to_string()))?;
        let key = format!("locks/probe-{}", crate::vault::keys::hex(&r));
        self.create(&key, b"1".to_vec())?;
        let second = self.create(&key, b"2".to_vec());
        let _ = self.delete(&key);
        let c = match second? {
            Put::Existed => Conditional::Honoured,
            Put::Created => Conditional::Ignored,
        };
        let _ = self.conditional.set(c);
        Ok(c)
    }
}
