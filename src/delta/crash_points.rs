//! Test-only crash points: `LAKESHELL_TEST_CRASH_AT=k:mode` makes the k-th write a Delta
//! table's store receives in this process (a PUT, the commit's included, a completed upload in
//! parts, a copy, a rename or a deleted file) fail or end the process:
//!
//! - `before`: the process aborts before the k-th write reaches the store;
//! - `after`: the k-th write is done, then the process aborts before it hears of it;
//! - `fail`: the k-th write returns an error, and the statement goes on as it would.
//!
//! The reliability tests try every k of each write statement (`tests/it/crashes.rs`). Without
//! the variable nothing is wrapped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// What happens at the crash point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Before,
    After,
    Fail,
}

#[derive(Debug, Clone, Copy)]
struct CrashAt {
    k: usize,
    mode: Mode,
}

/// The crash point set for this process, if any.
fn crash_at() -> Option<CrashAt> {
    static AT: OnceLock<Option<CrashAt>> = OnceLock::new();
    *AT.get_or_init(|| {
        let v = std::env::var("LAKESHELL_TEST_CRASH_AT").ok()?;
        let (k, mode) = v.split_once(':')?;
        let mode = match mode {
            "before" => Mode::Before,
            "after" => Mode::After,
            "fail" => Mode::Fail,
            _ => return None,
        };
        Some(CrashAt {
            k: k.parse().ok()?,
            mode,
        })
    })
}

/// Writes seen so far, across every table store of the process.
static WRITES: AtomicUsize = AtomicUsize::new(0);

/// `store`, wrapped when a crash point is set.
pub fn wrap(store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
    match crash_at() {
        Some(_) => Arc::new(CrashPoints { inner: store }),
        None => store,
    }
}

/// Counts one write; aborts before it, or says that it must fail, or that the process must
/// abort after it.
fn reached(what: &str, location: &Path) -> object_store::Result<bool> {
    let Some(at) = crash_at() else {
        return Ok(false);
    };
    let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    if n != at.k {
        return Ok(false);
    }
    match at.mode {
        Mode::Before => std::process::abort(),
        Mode::After => Ok(true),
        Mode::Fail => Err(object_store::Error::Generic {
            store: "crash point",
            source: format!("write {n} ({what} {location}) failed at LAKESHELL_TEST_CRASH_AT")
                .into(),
        }),
    }
}

fn abort_if(after: bool) {
    if after {
        std::process::abort();
    }
}

#[derive(Debug)]
struct CrashPoints {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Display for CrashPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrashPoints({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for CrashPoints {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let after = reached("put", location)?;
        let r = self.inner.put_opts(location, payload, opts).await;
        abort_if(after);
        r
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CrashPointUpload {
            inner,
            location: location.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        // Each file deleted is a write; `after` aborts once the store reports it deleted.
        let target = Arc::new(std::sync::Mutex::new(None::<Path>));
        let seen = Arc::clone(&target);
        let counted = locations
            .map(move |p| {
                let p = p?;
                if reached("delete", &p)? {
                    if let Ok(mut t) = seen.lock() {
                        *t = Some(p.clone());
                    }
                }
                Ok(p)
            })
            .boxed();
        self.inner
            .delete_stream(counted)
            .map(move |r| {
                if let Ok(p) = &r {
                    let hit = target
                        .lock()
                        .map(|t| t.as_ref() == Some(p))
                        .unwrap_or(false);
                    abort_if(hit);
                }
                r
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let after = reached("copy to", to)?;
        let r = self.inner.copy_opts(from, to, options).await;
        abort_if(after);
        r
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        let after = reached("rename to", to)?;
        let r = self.inner.rename_opts(from, to, options).await;
        abort_if(after);
        r
    }
}

/// An upload in parts whose completion is the write counted.
#[derive(Debug)]
struct CrashPointUpload {
    inner: Box<dyn MultipartUpload>,
    location: Path,
}

#[async_trait::async_trait]
impl MultipartUpload for CrashPointUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let after = reached("upload", &self.location)?;
        let r = self.inner.complete().await;
        abort_if(after);
        r
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}
