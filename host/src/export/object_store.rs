//! Where exported files go: the [`ObjectStore`] trait (put, get, list, delete by key) and
//! its local adapter, [`LocalDirStore`]. The S3 adapter is `crate::aws::s3_put`.
//!
//! Keys are `/`-separated paths relative to the store's root (`iam-events/year=2024/...`).
//! Files are handed over as finished local files ([`ObjectStore::put_file`]), so an adapter
//! can stream them (S3 multipart) and memory never holds a whole export.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The content type of exported Parquet files (IANA registration of 2024).
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// Failures of an object store. Messages name the store, the key and the operation.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("{op} {location}: {detail}")]
    Io { op: &'static str, location: String, detail: String },
    #[error("`{key}` is not a valid object key: {why}")]
    BadKey { key: String, why: &'static str },
}

/// What an object is, for stores that keep it (S3 content type and user metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: String,
    /// User metadata (`x-amz-meta-*` on S3).
    pub metadata: BTreeMap<String, String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Relative to the store's root.
    pub key: String,
    pub size: u64,
}

/// A flat key space of objects: a local directory or an S3 prefix.
pub trait ObjectStore {
    /// `file:/path` or `s3://bucket/prefix`, for logs and the summary.
    fn describe(&self) -> String;

    /// A directory where the exporter may stage files before [`ObjectStore::put_file`],
    /// when the store can take a file from there cheaply (the local store renames it into
    /// place). `None`: use the system temporary directory.
    fn staging_dir(&self) -> Option<PathBuf> {
        None
    }

    /// Store the finished file at `path` under `key`, replacing any object there. The
    /// store may move the file away; the caller must not use `path` afterwards. Readers
    /// never see a partial object. Returns the object's size.
    fn put_file(&self, key: &str, path: &Path, meta: &ObjectMeta) -> Result<u64, ObjectStoreError>;

    /// Store small bytes (a manifest) under `key`, replacing any object there.
    fn put_bytes(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), ObjectStoreError>;

    /// The object's bytes, or `None` when there is no such object.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError>;

    /// Every object whose key starts with `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, ObjectStoreError>;

    /// Remove the object; removing a missing object is not an error.
    fn delete(&self, key: &str) -> Result<(), ObjectStoreError>;
}

/// Where `--to` points: a local directory or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTarget {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ExportTarget {
    /// `s3://bucket[/prefix]` or a directory path (`file:` optional).
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("`{text}` names no bucket (s3://BUCKET/PREFIX)"));
            }
            return Ok(ExportTarget::S3 { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() });
        }
        let path = text.strip_prefix("file:").unwrap_or(text);
        if path.is_empty() || text.contains("://") {
            return Err(format!("`{text}` is not a directory or s3://BUCKET/PREFIX"));
        }
        Ok(ExportTarget::Local(PathBuf::from(path)))
    }
}

/// Refuse keys that could escape the root or are not plain relative paths.
pub fn check_key(key: &str) -> Result<(), ObjectStoreError> {
    let bad = |why| Err(ObjectStoreError::BadKey { key: key.to_string(), why });
    if key.is_empty() || key.starts_with('/') || key.ends_with('/') {
        return bad("it must be a relative path naming a file");
    }
    if key.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\\')) {
        return bad("it has an empty, `.`, `..` or backslashed segment");
    }
    Ok(())
}

/// Objects as files under a local directory (the default export target: `DIR/export/`
/// beside the embedded store). Writes are atomic: a temporary file in the store's own
/// `.staging/` directory, fsynced, then renamed into place; readers see the old file or the
/// new one, never half of one. Content type and metadata are not kept (a file has none).
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

/// The staging directory inside a local export root (a dot name: Athena, DuckDB globs and
/// the layout ignore it).
const STAGING: &str = ".staging";

impl LocalDirStore {
    /// Over `root`, created when missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, ObjectStoreError> {
        let root = root.into();
        std::fs::create_dir_all(root.join(STAGING)).map_err(|e| io_err("create", &root, e))?;
        Ok(LocalDirStore { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectStoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Move `tmp` to `dest` (creating its parent), after syncing it.
    fn install(&self, tmp: &Path, dest: &Path) -> Result<(), ObjectStoreError> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
        }
        std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| io_err("sync", tmp, e))?;
        match std::fs::rename(tmp, dest) {
            Ok(()) => Ok(()),
            // Another filesystem: copy to a sibling temporary name, then rename.
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let sibling = dest.with_extension(format!("tmp-{}", std::process::id()));
                std::fs::copy(tmp, &sibling).map_err(|e| io_err("copy", &sibling, e))?;
                std::fs::rename(&sibling, dest).map_err(|e| io_err("rename", dest, e))?;
                let _ = std::fs::remove_file(tmp);
                Ok(())
            }
            Err(e) => Err(io_err("rename", dest, e)),
        }
    }
}

/// A fresh file name in `dir`: `<what>-<pid>-<n>.tmp`, unique within and across processes.
pub fn staging_file(dir: &Path, what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("{what}-{}-{n}.tmp", std::process::id()))
}

fn io_err(op: &'static str, path: &Path, e: io::Error) -> ObjectStoreError {
    ObjectStoreError::Io { op, location: path.display().to_string(), detail: e.to_string() }
}

impl ObjectStore for LocalDirStore {
    fn describe(&self) -> String {
        format!("file:{}", self.root.display())
    }

    fn staging_dir(&self) -> Option<PathBuf> {
        Some(self.root.join(STAGING))
    }

    fn put_file(&self, key: &str, path: &Path, _meta: &ObjectMeta) -> Result<u64, ObjectStoreError> {
        let dest = self.path(key)?;
        let size = std::fs::metadata(path).map_err(|e| io_err("stat", path, e))?.len();
        self.install(path, &dest)?;
        Ok(size)
    }

    fn put_bytes(&self, key: &str, bytes: &[u8], _meta: &ObjectMeta) -> Result<(), ObjectStoreError> {
        let dest = self.path(key)?;
        let tmp_path = staging_file(&self.root.join(STAGING), "put");
        std::fs::write(&tmp_path, bytes).map_err(|e| io_err("write", &tmp_path, e))?;
        self.install(&tmp_path, &dest)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, ObjectStoreError> {
        // Walk from the deepest directory the prefix names, then filter by the full prefix.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.root.join(dir_part) };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("list", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_err("list", &dir, e))?;
                let path = entry.path();
                let file_type = entry.file_type().map_err(|e| io_err("stat", &path, e))?;
                let Ok(rel) = path.strip_prefix(&self.root) else { continue };
                let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                if key.starts_with(STAGING) {
                    continue;
                }
                if file_type.is_dir() {
                    stack.push(path);
                } else if key.starts_with(prefix) {
                    let size = entry.metadata().map_err(|e| io_err("stat", &path, e))?.len();
                    out.push(ListedObject { key, size });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        let path = self.path(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("delete", &path, e)),
        }
        // Remove emptied partition directories, up to (not including) the root.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_list_get_delete_round_trip() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = LocalDirStore::new(tmp.path().join("export")).expect("store");
        let meta = ObjectMeta::default();
        s.put_bytes("a/b/one.json", b"1", &meta).expect("put");
        let staged = s.staging_dir().expect("local stages").join("x.parquet");
        std::fs::write(&staged, b"abc").expect("staged file");
        assert_eq!(s.put_file("a/c/two.parquet", &staged, &meta).expect("put file"), 3);
        assert!(!staged.exists(), "the staged file was moved into place");
        let keys: Vec<_> = s.list("a/").expect("list").into_iter().map(|o| (o.key, o.size)).collect();
        assert_eq!(keys, [("a/b/one.json".to_string(), 1), ("a/c/two.parquet".to_string(), 3)]);
        assert_eq!(s.list("a/b").expect("list").len(), 1);
        assert_eq!(s.list("nothing/").expect("list"), []);
        assert_eq!(s.get("a/b/one.json").expect("get"), Some(b"1".to_vec()));
        assert_eq!(s.get("a/b/none.json").expect("get"), None);
        s.delete("a/b/one.json").expect("delete");
        s.delete("a/b/one.json").expect("deleting again is fine");
        assert!(!tmp.path().join("export/a/b").exists(), "emptied directories go too");
        assert_eq!(s.list("").expect("list").len(), 1, "the staging directory is not listed");
    }

    #[test]
    fn targets_parse() {
        assert_eq!(ExportTarget::parse("out/dir"), Ok(ExportTarget::Local("out/dir".into())));
        assert_eq!(ExportTarget::parse("file:/x"), Ok(ExportTarget::Local("/x".into())));
        assert_eq!(
            ExportTarget::parse("s3://b/a/p/"),
            Ok(ExportTarget::S3 { bucket: "b".into(), prefix: "a/p".into() })
        );
        assert_eq!(ExportTarget::parse("s3://b"), Ok(ExportTarget::S3 { bucket: "b".into(), prefix: String::new() }));
        for bad in ["s3://", "s3:///p", "", "gs://b/p"] {
            assert!(ExportTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = LocalDirStore::new(tmp.path()).expect("store");
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "", "dir/"] {
            assert!(matches!(s.get(bad), Err(ObjectStoreError::BadKey { .. })), "{bad}");
        }
    }
}
