//! Durable commits on local disk. object_store's local file system writes a file and links or
//! renames it into place without fsync, so a power cut after a commit was reported could lose
//! it, or leave a commit file with nothing in it. Every local Delta table is written through
//! [`Durable`] instead (installed by [`super::commit_check`] on the stores of each `file://`
//! log store):
//!
//! - a commit (a create-if-absent put) is written to a staging file, fsynced, hard-linked to its
//!   name (which fails if another writer has that version) and the `_delta_log` folder fsynced,
//!   before the commit is reported;
//! - any other file (a data file, a checkpoint, an upload completed in parts, a rename or copy)
//!   is fsynced with its folder once it is in place, so the data files a commit names are on
//!   disk before the commit is written.

use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// A local store whose writes are on disk when they return. `base` is the folder the store's
/// paths are relative to.
#[derive(Debug)]
pub struct Durable {
    inner: Arc<dyn ObjectStore>,
    base: PathBuf,
}

impl Durable {
    pub fn new(inner: Arc<dyn ObjectStore>, base: PathBuf) -> Self {
        Durable { inner, base }
    }

    fn file(&self, location: &Path) -> PathBuf {
        let mut p = self.base.clone();
        for part in location.parts() {
            p.push(part.as_ref());
        }
        p
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "local (durable)",
        source: format!("{}: {e}", path.display()).into(),
    }
}

/// fsyncs `file` and the folders that hold its name, up to two levels (a partition folder may
/// be new, and its own name is in the table's folder).
fn sync_file_and_folder(file: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    sync_folder(file)?;
    match file.parent() {
        Some(dir) if dir.parent().is_some() => sync_folder(dir),
        _ => Ok(()),
    }
}

fn sync_folder(file: &std::path::Path) -> std::io::Result<()> {
    match file.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> object_store::Result<T> + Send + 'static,
) -> object_store::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| object_store::Error::Generic {
            store: "local (durable)",
            source: Box::new(e),
        })?
}

/// Writes `payload` to `target` only if no file has that name: staging file, fsync, hard
/// link, fsync of the folder.
fn create_durably(target: PathBuf, payload: PutPayload) -> object_store::Result<()> {
    use std::io::Write;
    let dir = target
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = dir.join(format!(".{name}.{}.staging", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
            .map_err(|e| io_error(&staging, e))?;
        for chunk in payload.iter() {
            f.write_all(chunk).map_err(|e| io_error(&staging, e))?;
        }
        f.sync_all().map_err(|e| io_error(&staging, e))?;
        match std::fs::hard_link(&staging, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(object_store::Error::AlreadyExists {
                    path: target.display().to_string(),
                    source: Box::new(e),
                })
            }
            Err(e) => return Err(io_error(&target, e)),
        }
        sync_folder(&target).map_err(|e| io_error(&dir, e))
    })();
    let _ = std::fs::remove_file(&staging);
    result
}

impl std::fmt::Display for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Durable({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Durable {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let file = self.file(location);
        if matches!(opts.mode, PutMode::Create) {
            blocking(move || create_durably(file, payload)).await?;
            return Ok(PutResult {
                e_tag: None,
                version: None,
            });
        }
        let r = self.inner.put_opts(location, payload, opts).await?;
        blocking(move || sync_file_and_folder(&file).map_err(|e| io_error(&file, e))).await?;
        Ok(r)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(DurableUpload {
            inner,
            file: self.file(location),
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
        self.inner.delete_stream(locations)
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
        self.inner.copy_opts(from, to, options).await?;
        let file = self.file(to);
        blocking(move || sync_file_and_folder(&file).map_err(|e| io_error(&file, e))).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        let file = self.file(to);
        blocking(move || sync_file_and_folder(&file).map_err(|e| io_error(&file, e))).await
    }
}

/// An upload in parts whose file is fsynced, with its folder, once it is complete.
#[derive(Debug)]
struct DurableUpload {
    inner: Box<dyn MultipartUpload>,
    file: PathBuf,
}

#[async_trait::async_trait]
impl MultipartUpload for DurableUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let r = self.inner.complete().await?;
        let file = self.file.clone();
        blocking(move || sync_file_and_folder(&file).map_err(|e| io_error(&file, e))).await?;
        Ok(r)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}
