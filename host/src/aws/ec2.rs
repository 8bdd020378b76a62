//! EC2 DescribeRegions: the regions the account can use.

use aws_config::SdkConfig;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::Region;
use aws_sdk_ec2::Client;

use crate::collect::lookup::{opt_in_enabled, LookupError};

/// An EC2 client for account-wide calls: the config's region (or
/// [`super::DEFAULT_REGION`]), SDK retries off, the adapters' timeouts.
pub fn client(config: &SdkConfig) -> Client {
    let region = config.region().cloned().unwrap_or_else(|| Region::new(super::DEFAULT_REGION));
    let conf = aws_sdk_ec2::config::Builder::from(config)
        .region(region)
        .retry_config(RetryConfig::disabled())
        .timeout_config(super::timeouts())
        .build();
    Client::from_conf(conf)
}

/// DescribeRegions with `AllRegions=true`, keeping `opt-in-not-required` and `opted-in`
/// (dropping `not-opted-in`), in the order EC2 lists them.
pub async fn enabled_regions(ec2: &Client) -> Result<Vec<String>, LookupError> {
    let out = ec2.describe_regions().all_regions(true).send().await.map_err(super::classify)?;
    Ok(out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status().is_some_and(opt_in_enabled))
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect())
}
