//! The HTTP side: routing, CloudTrail `LookupEvents` (JSON 1.1), EC2 `DescribeRegions` (query
//! protocol, XML answer), a readiness probe and a small control API for out-of-process use.
//!
//! Nothing here trusts the request: a malformed body, header or token is a 400 with the error name
//! the real service would use, never a panic.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::control::{Fault, Verdict};
use crate::store::{AttributeKey, PageCursor, Query};
use crate::time::{epoch_secs_to_micros, micros_to_json_number, parse_iso8601};
use crate::{lock, Shared};

/// Largest request body read (seeding through the control API can be big).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// `X-Amz-Target` prefix of CloudTrail operations. The AWS SDK for Rust sends the bare
/// `CloudTrail_20131101.LookupEvents`; botocore and the docs use the namespaced form.
const CLOUDTRAIL_PREFIX: &str = "CloudTrail_20131101.";
/// The optional namespace before [`CLOUDTRAIL_PREFIX`].
const CLOUDTRAIL_NAMESPACE: &str = "com.amazonaws.cloudtrail.v20131101.";
/// Where the control API lives.
const CONTROL_PREFIX: &str = "/_lookup-server/";
/// Region used when a request carries no SigV4 credential scope.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

type Resp = Response<Full<Bytes>>;

fn response(status: StatusCode, content_type: &'static str, request_id: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

/// An AWS JSON 1.1 error: `{"__type": ..., "message": ...}` plus the `x-amzn-ErrorType` header.
fn json_error(status: StatusCode, request_id: &str, error_type: &'static str, message: &str) -> Resp {
    let body = json!({"__type": error_type, "message": message}).to_string();
    let mut r = response(status, "application/x-amz-json-1.1", request_id, body);
    r.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    r
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An EC2 query-protocol error document.
fn ec2_error(request_id: &str, code: &str, message: &str) -> Resp {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    );
    response(StatusCode::BAD_REQUEST, "text/xml;charset=UTF-8", request_id, body)
}

/// The region of the SigV4 credential scope `Credential=AKID/DATE/REGION/SERVICE/aws4_request`.
pub(crate) fn region_of(headers: &HeaderMap) -> String {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| {
            let start = auth.find("Credential=")? + "Credential=".len();
            let cred = auth[start..].split([',', ' ']).next()?;
            let mut parts = cred.split('/');
            let _akid = parts.next()?;
            let _date = parts.next()?;
            let region = parts.next()?;
            (!region.is_empty()).then(|| region.to_owned())
        })
        .unwrap_or_else(|| DEFAULT_REGION.to_owned())
}

/// Decodes `application/x-www-form-urlencoded` into pairs (`+` is a space, bad escapes kept as is).
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (decode(&pair[..eq]), decode(&pair[eq + 1..])),
            None => (decode(pair), String::new()),
        })
        .collect()
}

fn body_error(request_id: &str) -> Resp {
    json_error(StatusCode::BAD_REQUEST, request_id, "SerializationException", "request body unreadable or too large")
}

/// The hyper service.
pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    if !shared.log_requests {
        return route(&shared, req).await;
    }
    let region = region_of(req.headers());
    let op = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
        eprintln!("lookup-server: {region} {op} unreadable body -> 400");
        return Ok(body_error(&shared.next_request_id()));
    };
    let shown = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
    let resp = route(&shared, Request::from_parts(parts, Full::new(body))).await?;
    eprintln!(
        "lookup-server: {} {region} {op} {shown} -> {}",
        crate::time::format_iso8601(crate::time::now_micros()),
        resp.status().as_u16()
    );
    Ok(resp)
}

/// Routes one request (the body type is generic so the logging path can re-wrap a read body).
async fn route<B>(shared: &Shared, req: Request<B>) -> Result<Resp, Infallible>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = shared.next_request_id();
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
        return Ok(body_error(&request_id));
    };
    let path = parts.uri.path();
    if let Some(cmd) = path.strip_prefix(CONTROL_PREFIX) {
        return Ok(control(shared, &request_id, &parts.method, cmd, parts.uri.query().unwrap_or(""), &body));
    }
    if parts.method == Method::GET && (path == "/" || path == "/health") {
        return Ok(response(StatusCode::OK, "text/plain", &request_id, "ok\n"));
    }
    if parts.method != Method::POST {
        return Ok(json_error(StatusCode::METHOD_NOT_ALLOWED, &request_id, "UnknownOperationException", "use POST /"));
    }
    let region = region_of(&parts.headers);
    if let Some(target) = parts.headers.get("x-amz-target") {
        let target = target.to_str().unwrap_or("");
        let op = target.strip_prefix(CLOUDTRAIL_NAMESPACE).unwrap_or(target).strip_prefix(CLOUDTRAIL_PREFIX);
        return Ok(match op {
            Some("LookupEvents") => lookup_events(shared, &region, &request_id, &body),
            _ => json_error(
                StatusCode::BAD_REQUEST,
                &request_id,
                "UnknownOperationException",
                &format!("lookup-server does not implement {target:?}"),
            ),
        });
    }
    let form = parse_form(&body);
    match form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.as_str()) {
        Some("DescribeRegions") => Ok(describe_regions(shared, &request_id, &form)),
        Some(action) => {
            Ok(ec2_error(&request_id, "InvalidAction", &format!("lookup-server does not implement {action}")))
        }
        None => Ok(json_error(
            StatusCode::BAD_REQUEST,
            &request_id,
            "UnknownOperationException",
            "expected an X-Amz-Target header (CloudTrail) or an Action form field (EC2)",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttributeIn {
    attribute_key: Option<String>,
    attribute_value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupEventsIn {
    lookup_attributes: Option<Vec<LookupAttributeIn>>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// A JSON timestamp: epoch seconds (number or numeric string) or an ISO-8601 string.
fn timestamp(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => epoch_secs_to_micros(n.as_f64()?),
        Value::String(s) => s.trim().parse::<f64>().ok().and_then(epoch_secs_to_micros).or_else(|| parse_iso8601(s)),
        _ => None,
    }
}

fn lookup_events(shared: &Shared, region: &str, request_id: &str, body: &[u8]) -> Resp {
    let bad = |t: &'static str, m: &str| json_error(StatusCode::BAD_REQUEST, request_id, t, m);
    let not_opted_in = shared.reject_not_opted_in && shared.regions.iter().any(|r| r.name == region && !r.enabled());
    let verdict = lock(&shared.control).admit(region, not_opted_in);
    match verdict {
        Verdict::Serve => {}
        Verdict::NotOptedIn => {
            return bad("UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        Verdict::Throttle => return bad("ThrottlingException", "Rate exceeded"),
        Verdict::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let name = match status.as_u16() {
                500 => "InternalFailure",
                503 => "ServiceUnavailable",
                _ => "ServerError",
            };
            return json_error(status, request_id, name, "injected by lookup-server");
        }
    }

    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    let input: LookupEventsIn = match serde_json::from_slice(body) {
        Ok(i) => i,
        Err(e) => return bad("SerializationException", &format!("invalid LookupEvents body: {e}")),
    };
    let max = match input.max_results {
        None => 50,
        Some(m) if (1..=50).contains(&m) => m as usize,
        Some(_) => return bad("InvalidMaxResultsException", "MaxResults must be between 1 and 50."),
    };
    let mut query = Query::default();
    for (field, slot) in [(&input.start_time, &mut query.start_us), (&input.end_time, &mut query.end_us)] {
        match field {
            None | Some(Value::Null) => {}
            Some(v) => match timestamp(v) {
                Some(t) => *slot = Some(t),
                None => return bad("SerializationException", &format!("invalid timestamp {v}")),
            },
        }
    }
    if let (Some(s), Some(e)) = (query.start_us, query.end_us) {
        if s > e {
            return bad("InvalidTimeRangeException", "The start time must be before the end time.");
        }
    }
    let attrs = input.lookup_attributes.unwrap_or_default();
    if attrs.len() > 1 {
        return bad("InvalidLookupAttributesException", "You can only specify one lookup attribute.");
    }
    if let Some(a) = attrs.first() {
        let key = a.attribute_key.as_deref().and_then(AttributeKey::parse);
        let value = a.attribute_value.as_deref().filter(|v| !v.is_empty() && v.len() <= 2000);
        match (key, value) {
            (Some(k), Some(v)) => query.attribute = Some((k, v.to_owned())),
            _ => return bad("InvalidLookupAttributesException", "Invalid lookup attribute key or value."),
        }
    }
    let insight = match input.event_category.as_deref() {
        None => false,
        Some("insight") => true,
        Some(other) => return bad("InvalidEventCategoryException", &format!("Invalid EventCategory {other:?}.")),
    };
    let query_hash = query.hash(region);
    let cursor = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match PageCursor::from_token(t, query_hash) {
            Some(c) => Some(c),
            None => {
                return bad(
                    "InvalidNextTokenException",
                    "Invalid NextToken, or a NextToken used with other parameters.",
                )
            }
        },
    };

    let (events, next) = if insight {
        (Vec::new(), None) // no Insights events are emulated
    } else {
        lock(&shared.store).page(region, &query, max, cursor.as_ref())
    };
    {
        let mut control = lock(&shared.control);
        control.stats.pages_served += 1;
        control.stats.events_served += events.len() as u64;
    }
    let out: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("EventId".into(), Value::String(e.id.clone()));
            if let Some(n) = &e.name {
                m.insert("EventName".into(), Value::String(n.clone()));
            }
            if let Some(r) = &e.read_only {
                m.insert("ReadOnly".into(), Value::String(r.clone()));
            }
            if let Some(k) = &e.access_key_id {
                m.insert("AccessKeyId".into(), Value::String(k.clone()));
            }
            m.insert("EventTime".into(), Value::Number(micros_to_json_number(e.time_us)));
            if let Some(s) = &e.source {
                m.insert("EventSource".into(), Value::String(s.clone()));
            }
            if let Some(u) = &e.username {
                m.insert("Username".into(), Value::String(u.clone()));
            }
            m.insert("Resources".into(), Value::Array(Vec::new()));
            m.insert("CloudTrailEvent".into(), Value::String(e.record_json.clone()));
            Value::Object(m)
        })
        .collect();
    let mut resp = Map::new();
    resp.insert("Events".into(), Value::Array(out));
    if let Some(c) = next {
        resp.insert("NextToken".into(), Value::String(c.to_token(query_hash)));
    }
    response(StatusCode::OK, "application/x-amz-json-1.1", request_id, Value::Object(resp).to_string())
}

/// DescribeRegions: the same list whatever region the request was signed for, as EC2 does.
fn describe_regions(shared: &Shared, request_id: &str, form: &[(String, String)]) -> Resp {
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let all = get("AllRegions").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let names: Vec<&str> = form.iter().filter(|(k, _)| k.starts_with("RegionName.")).map(|(_, v)| v.as_str()).collect();
    for n in &names {
        if !shared.regions.iter().any(|r| r.name == *n) {
            return ec2_error(request_id, "InvalidParameterValue", &format!("Invalid region: {n}"));
        }
    }
    // Filters: Filter.N.Name / Filter.N.Value.M, for region-name, endpoint and opt-in-status.
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    for n in 1.. {
        let Some(name) = get(&format!("Filter.{n}.Name")) else { break };
        if !matches!(name, "region-name" | "endpoint" | "opt-in-status") {
            return ec2_error(request_id, "InvalidParameterValue", &format!("The filter '{name}' is invalid"));
        }
        let values: Vec<String> =
            (1..).map_while(|m| get(&format!("Filter.{n}.Value.{m}")).map(str::to_owned)).collect();
        filters.push((name.to_owned(), values));
    }
    let endpoint = |r: &str| format!("ec2.{r}.amazonaws.com");
    let mut items = String::new();
    for r in &shared.regions {
        let listed = if names.is_empty() { all || r.enabled() } else { names.contains(&r.name.as_str()) };
        let filtered = filters.iter().all(|(name, values)| {
            let field = match name.as_str() {
                "region-name" => r.name.clone(),
                "endpoint" => endpoint(&r.name),
                _ => r.opt_in_status.clone(),
            };
            values.contains(&field)
        });
        if listed && filtered {
            items.push_str(&format!(
                "<item><regionName>{}</regionName><regionEndpoint>{}</regionEndpoint><optInStatus>{}</optInStatus></item>",
                xml_escape(&r.name),
                xml_escape(&endpoint(&r.name)),
                xml_escape(&r.opt_in_status)
            ));
        }
    }
    lock(&shared.control).stats.describe_regions_requests += 1;
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{}</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>",
        xml_escape(request_id)
    );
    response(StatusCode::OK, "text/xml;charset=UTF-8", request_id, body)
}

/// The control API (`/_lookup-server/…`), for tests that run the binary in another process.
/// Query parameters are URL-encoded; a missing `region` means "all regions" (or us-east-1 for
/// `events`).
fn control(shared: &Shared, request_id: &str, method: &Method, cmd: &str, query: &str, body: &[u8]) -> Resp {
    let params = parse_form(query.as_bytes());
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let region = get("region");
    let ok = |v: Value| response(StatusCode::OK, "application/json", request_id, v.to_string());
    let bad = |m: &str| json_error(StatusCode::BAD_REQUEST, request_id, "ValidationException", m);
    match (method, cmd) {
        (&Method::GET, "stats") => {
            let s = lock(&shared.control).stats.clone();
            ok(json!({
                "requests_by_region": s.requests_by_region,
                "throttled_by_region": s.throttled_by_region,
                "errors_injected": s.errors_injected,
                "pages_served": s.pages_served,
                "events_served": s.events_served,
                "describe_regions_requests": s.describe_regions_requests,
            }))
        }
        (&Method::POST, "events") => {
            let records = match crate::seed::parse_records(body) {
                Ok(r) => r,
                Err(e) => return bad(&e.to_string()),
            };
            let mut store = lock(&shared.store);
            let mut added = 0usize;
            for rec in records {
                let target = region.unwrap_or(&rec.region);
                if let Err(e) = store.add(target, rec.record, Some(&rec.raw)) {
                    return bad(&format!("record {}: {e}", added + 1));
                }
                added += 1;
            }
            ok(json!({"added": added}))
        }
        (&Method::DELETE, "events") => {
            lock(&shared.store).clear(region);
            ok(json!({}))
        }
        (&Method::POST, "fail") => {
            let n = get("n").map_or(Ok(1), str::parse::<usize>);
            let fault = match get("status").unwrap_or("500") {
                "throttle" => Some(Fault::Throttle),
                code => code.parse::<u16>().ok().filter(|c| (500..600).contains(c)).map(Fault::ServerError),
            };
            match (n, fault) {
                (Ok(n), Some(f)) => {
                    lock(&shared.control).fail_next(region, n, f);
                    ok(json!({}))
                }
                _ => bad("fail takes n=<count> and status=<5xx>|throttle"),
            }
        }
        (&Method::POST, "storm") => match get("ms").map(str::parse::<u64>) {
            Some(Ok(ms)) => {
                lock(&shared.control).throttle_storm(region, Duration::from_millis(ms));
                ok(json!({}))
            }
            _ => bad("storm takes ms=<milliseconds>"),
        },
        (&Method::POST, "rate") => match (region, get("per_second").map(str::parse::<f64>)) {
            (Some(r), Some(Ok(rate))) => {
                lock(&shared.control).set_rate(r, rate);
                ok(json!({}))
            }
            _ => bad("rate takes region=<name> and per_second=<number>"),
        },
        _ => json_error(StatusCode::NOT_FOUND, request_id, "UnknownOperationException", "unknown control command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"Action=DescribeRegions&Version=2016-11-15&A=%41%2b+b&bad=%zz&tail=%4");
        assert_eq!(f[0], ("Action".into(), "DescribeRegions".into()));
        assert_eq!(f[2], ("A".into(), "A+ b".into()));
        assert_eq!(f[3], ("bad".into(), "%zz".into()));
        assert_eq!(f[4], ("tail".into(), "%4".into()));
    }

    #[test]
    fn region_from_sigv4() {
        let mut h = HeaderMap::new();
        assert_eq!(region_of(&h), "us-east-1");
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=test/20240101/eu-west-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=ab",
            ),
        );
        assert_eq!(region_of(&h), "eu-west-1");
    }
}
