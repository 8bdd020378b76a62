//! [`SdkLookup`]: CloudTrail LookupEvents (and EC2 DescribeRegions) through the AWS SDK,
//! behind [`LookupApi`].
//!
//! One CloudTrail client per region, built on first use from one shared [`SdkConfig`]
//! with the region overridden, SDK retries off and the adapters' timeouts
//! ([`super::CONNECT_TIMEOUT`], [`super::ATTEMPT_TIMEOUT`]). All clients share
//! the config's HTTP client (connection pool) and credentials cache.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::config::Region;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;

use crate::collect::lookup::{LookedUp, LookupApi, LookupError, LookupPage};

/// Events per LookupEvents page (the API's maximum).
pub const PAGE_SIZE: i32 = 50;

/// LookupEvents and DescribeRegions through the SDK.
#[derive(Debug)]
pub struct SdkLookup {
    config: SdkConfig,
    clients: Mutex<HashMap<String, Client>>,
    ec2: aws_sdk_ec2::Client,
}

impl SdkLookup {
    /// Clients built from `config` (see [`super::sdk_config`]). DescribeRegions goes to the
    /// config's region, or [`super::DEFAULT_REGION`].
    pub fn new(config: &SdkConfig) -> Self {
        SdkLookup { config: config.clone(), clients: Mutex::new(HashMap::new()), ec2: super::ec2::client(config) }
    }

    /// The region's client, built on first use.
    fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_cloudtrail::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()))
                    .retry_config(RetryConfig::disabled())
                    .timeout_config(super::timeouts())
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }
}

impl LookupApi for SdkLookup {
    async fn lookup_page(
        &self,
        region: &str,
        event_source: &str,
        start: i64,
        end: i64,
        next_token: Option<String>,
    ) -> Result<LookupPage, LookupError> {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventSource)
            .attribute_value(event_source)
            .build()
            .map_err(|e| LookupError::Fatal { code: "InvalidRequest".into(), detail: e.to_string() })?;
        let out = self
            .client(region)
            .lookup_events()
            .lookup_attributes(attribute)
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .max_results(PAGE_SIZE)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(super::classify)?;
        let events = out
            .events()
            .iter()
            .map(|e| LookedUp {
                cloudtrail_event: e.cloud_trail_event().unwrap_or_default().to_owned(),
                event_id: e.event_id().map(str::to_owned),
                event_time: e.event_time().map(DateTime::secs),
            })
            .collect();
        // An empty token would loop forever on some SDK versions; it means "no more".
        let next_token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        Ok(LookupPage { events, next_token })
    }

    async fn enabled_regions(&self) -> Result<Vec<String>, LookupError> {
        super::ec2::enabled_regions(&self.ec2).await
    }
}
