//! An S3 prefix as the export target: [`S3ObjectStore`] implements the exporter's
//! [`ObjectStore`] with PutObject / multipart upload, GetObject, ListObjectsV2 and
//! DeleteObject.
//!
//! - Objects get their content type (`application/vnd.apache.parquet` for the exported
//!   files) and user metadata (`format`, `compression`, `created_by`, `schema_version`).
//! - Files are streamed from disk, never read into memory whole: up to
//!   [`MULTIPART_THRESHOLD`] as one PutObject whose body reads the file, above it as a
//!   multipart upload of [`PART_SIZE`] parts, each read from its offset of the file when
//!   sent. A failed multipart upload is aborted, so no invisible parts are left to pay for.
//! - The exporter's core is synchronous; this adapter owns a small current-thread tokio
//!   runtime and blocks on each request. It must not be called from inside a runtime.
//! - Errors name the `s3://bucket/key`, the S3 error code and the HTTP status. Retries are
//!   the SDK's (standard mode, from the shared config).

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;

use crate::export::object_store::{check_key, ListedObject, ObjectMeta, ObjectStore, ObjectStoreError};

/// Files larger than this go up as multipart uploads.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;
/// The part size of multipart uploads (S3's minimum is 5 MiB, except for the last part).
pub const PART_SIZE: u64 = 16 << 20;

/// Objects under `s3://bucket/prefix/`.
#[derive(Debug)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    rt: tokio::runtime::Runtime,
    multipart_threshold: u64,
    part_size: u64,
}

impl S3ObjectStore {
    /// Over an existing client. `prefix` may be empty; a missing trailing `/` is added.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: &str) -> Result<Self, ObjectStoreError> {
        let bucket = bucket.into();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            ObjectStoreError::Io { op: "start", location: format!("s3://{bucket}/"), detail: e.to_string() }
        })?;
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(S3ObjectStore { client, bucket, prefix, rt, multipart_threshold: MULTIPART_THRESHOLD, part_size: PART_SIZE })
    }

    /// From the shared SDK config, with path-style addressing (works with AWS and with local
    /// servers on 127.0.0.1; see [`crate::aws::s3::S3Prefix::from_sdk_config`]).
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        prefix: &str,
    ) -> Result<Self, ObjectStoreError> {
        let conf = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        Self::new(Client::from_conf(conf), bucket, prefix)
    }

    /// Use multipart uploads above `threshold` bytes, in parts of `part_size` (tests).
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(1);
        self
    }

    fn object_key(&self, key: &str) -> Result<String, ObjectStoreError> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn uri(&self, object_key: &str) -> String {
        format!("s3://{}/{object_key}", self.bucket)
    }

    fn err<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        op: &'static str,
        object_key: &str,
        e: &SdkError<E, HttpResponse>,
    ) -> ObjectStoreError {
        let code = e.code().unwrap_or("no error code");
        let status =
            e.raw_response().map_or_else(|| "no response".to_string(), |r| format!("HTTP {}", r.status().as_u16()));
        let detail = match e.message() {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => DisplayErrorContext(e).to_string(),
        };
        ObjectStoreError::Io { op, location: self.uri(object_key), detail: format!("{code} ({status}): {detail}") }
    }

    fn file_err(&self, op: &'static str, object_key: &str, path: &Path, e: impl std::fmt::Display) -> ObjectStoreError {
        ObjectStoreError::Io { op, location: self.uri(object_key), detail: format!("{}: {e}", path.display()) }
    }

    async fn put_single(&self, k: &str, path: &Path, meta: &ObjectMeta) -> Result<(), ObjectStoreError> {
        let body = ByteStream::from_path(path).await.map_err(|e| self.file_err("put", k, path, e))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(k)
            .content_type(&meta.content_type)
            .set_metadata(metadata(meta))
            .body(body)
            .send()
            .await
            .map_err(|e| self.err("put", k, &e))?;
        Ok(())
    }

    async fn put_multipart(&self, k: &str, path: &Path, size: u64, meta: &ObjectMeta) -> Result<(), ObjectStoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(k)
            .content_type(&meta.content_type)
            .set_metadata(metadata(meta))
            .send()
            .await
            .map_err(|e| self.err("create multipart upload", k, &e))?;
        let Some(upload_id) = created.upload_id().map(str::to_string) else {
            return Err(ObjectStoreError::Io {
                op: "create multipart upload",
                location: self.uri(k),
                detail: "the answer has no UploadId".into(),
            });
        };
        let result = self.upload_parts(k, path, size, &upload_id).await;
        if result.is_err() {
            // Best effort: the error to report is the upload's, not the abort's.
            let _ = self.client.abort_multipart_upload().bucket(&self.bucket).key(k).upload_id(&upload_id).send().await;
        }
        result
    }

    async fn upload_parts(&self, k: &str, path: &Path, size: u64, upload_id: &str) -> Result<(), ObjectStoreError> {
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let len = self.part_size.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(len))
                .build()
                .await
                .map_err(|e| self.file_err("upload part", k, path, e))?;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(k)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(i64::try_from(len).unwrap_or(i64::MAX))
                .body(body)
                .send()
                .await
                .map_err(|e| self.err("upload part", k, &e))?;
            parts
                .push(CompletedPart::builder().set_e_tag(part.e_tag().map(str::to_string)).part_number(number).build());
            offset += len;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(k)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| self.err("complete multipart upload", k, &e))?;
        Ok(())
    }
}

fn metadata(meta: &ObjectMeta) -> Option<HashMap<String, String>> {
    (!meta.metadata.is_empty()).then(|| meta.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

impl ObjectStore for S3ObjectStore {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn put_file(&self, key: &str, path: &Path, meta: &ObjectMeta) -> Result<u64, ObjectStoreError> {
        let k = self.object_key(key)?;
        let size = std::fs::metadata(path).map_err(|e| self.file_err("put", &k, path, e))?.len();
        self.rt.block_on(async {
            if size > self.multipart_threshold {
                self.put_multipart(&k, path, size, meta).await
            } else {
                self.put_single(&k, path, meta).await
            }
        })?;
        Ok(size)
    }

    fn put_bytes(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), ObjectStoreError> {
        let k = self.object_key(key)?;
        self.rt.block_on(async {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&k)
                .content_type(&meta.content_type)
                .set_metadata(metadata(meta))
                .body(ByteStream::from(bytes.to_vec()))
                .send()
                .await
                .map_err(|e| self.err("put", &k, &e))
        })?;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectStoreError> {
        let k = self.object_key(key)?;
        self.rt.block_on(async {
            let resp = match self.client.get_object().bucket(&self.bucket).key(&k).send().await {
                Ok(r) => r,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
                Err(e) => return Err(self.err("get", &k, &e)),
            };
            let body = resp.body.collect().await.map_err(|e| ObjectStoreError::Io {
                op: "get",
                location: self.uri(&k),
                detail: format!("the download broke off: {}", DisplayErrorContext(&e)),
            })?;
            Ok(Some(body.to_vec()))
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, ObjectStoreError> {
        let full = format!("{}{prefix}", self.prefix);
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(&full)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| self.err("list", &full, &e))?;
                for o in page.contents() {
                    if let Some(key) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                        out.push(ListedObject {
                            key: key.to_string(),
                            size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                        });
                    }
                }
                match (page.is_truncated().unwrap_or(false), page.next_continuation_token()) {
                    (true, Some(t)) if !t.is_empty() => token = Some(t.to_string()),
                    (true, _) => {
                        return Err(ObjectStoreError::Io {
                            op: "list",
                            location: self.uri(&full),
                            detail: "a truncated page has no continuation token".into(),
                        })
                    }
                    (false, _) => break,
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
    }

    fn delete(&self, key: &str) -> Result<(), ObjectStoreError> {
        let k = self.object_key(key)?;
        self.rt.block_on(async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&k)
                .send()
                .await
                .map_err(|e| self.err("delete", &k, &e))
        })?;
        Ok(())
    }
}
