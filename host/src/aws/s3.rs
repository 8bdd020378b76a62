//! An S3 prefix as a source of CloudTrail trail files: ListObjectsV2 (every page, by
//! continuation token) and GetObject, behind [`ObjectSource`].
//!
//! Keys are full URIs (`s3://bucket/key`), which is also what the store records as done.
//! Errors keep the object's URI, the S3 error code (`NoSuchKey`, `AccessDenied`,
//! `SlowDown`, ...) and the HTTP status. Retries are the SDK's (standard mode, from the
//! shared config).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;

use crate::collect::trail::{Listing, ObjectInfo, ObjectSource, TrailError};

/// The objects under `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct S3Prefix {
    client: Client,
    bucket: String,
    prefix: String,
    page_size: Option<i32>,
}

impl S3Prefix {
    /// Over an existing client.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Prefix { client, bucket: bucket.into(), prefix: prefix.into(), page_size: None }
    }

    /// From the shared SDK config (region, credentials, `AWS_ENDPOINT_URL[_S3]`), with
    /// path-style addressing forced: it works with AWS and with local servers on
    /// `127.0.0.1`, where virtual-hosted names (`bucket.127.0.0.1`) cannot resolve, and
    /// with bucket names containing dots.
    pub fn from_sdk_config(
        config: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        Self::new(Client::from_conf(conf), bucket, prefix)
    }

    /// Ask for at most `n` keys per ListObjectsV2 page (S3's default and maximum is 1000).
    pub fn with_page_size(mut self, n: i32) -> Self {
        self.page_size = Some(n);
        self
    }

    /// `s3://bucket/prefix`.
    pub fn label(&self) -> String {
        self.uri(&self.prefix)
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// The code, the HTTP status and the most useful message of an SDK error.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, HttpResponse>,
) -> (Option<String>, Option<u16>, String) {
    let code = e.code().map(str::to_string);
    let status = e.raw_response().map(|r| r.status().as_u16());
    let detail = match e.message() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    };
    (code, status, detail)
}

impl ObjectSource for S3Prefix {
    async fn list(&self) -> Result<Listing, TrailError> {
        let mut out = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_max_keys(self.page_size)
                .set_continuation_token(token.take())
                .send()
                .await;
            out.requests += 1;
            let page = page.map_err(|e| {
                let (code, status, detail) = describe(&e);
                TrailError::List { location: self.label(), code, status, detail }
            })?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    let size = u64::try_from(o.size().unwrap_or(0)).unwrap_or(0);
                    out.objects.push(ObjectInfo { key: self.uri(key), size });
                }
            }
            match (page.is_truncated().unwrap_or(false), page.next_continuation_token()) {
                (true, Some(t)) if !t.is_empty() => token = Some(t.to_string()),
                (true, _) => {
                    return Err(TrailError::List {
                        location: self.label(),
                        code: None,
                        status: None,
                        detail: format!(
                            "page {} of the listing is truncated but has no continuation token",
                            out.requests
                        ),
                    })
                }
                (false, _) => break,
            }
        }
        // S3 lists in key order already; keep it explicit for the contract.
        out.objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, TrailError> {
        let object_key = key.strip_prefix(&format!("s3://{}/", self.bucket)).ok_or_else(|| TrailError::Get {
            key: key.to_string(),
            code: Some("NotInBucket".into()),
            status: None,
            detail: format!("the key is not in s3://{}/", self.bucket),
        })?;
        let resp = self.client.get_object().bucket(&self.bucket).key(object_key).send().await.map_err(|e| {
            let (code, status, detail) = describe(&e);
            TrailError::Get { key: key.to_string(), code, status, detail }
        })?;
        let body = resp.body.collect().await.map_err(|e| TrailError::Get {
            key: key.to_string(),
            code: None,
            status: None,
            detail: format!("the download broke off: {}", DisplayErrorContext(&e)),
        })?;
        Ok(body.to_vec())
    }
}
