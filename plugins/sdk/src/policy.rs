//! IAM policy documents in every shape CloudTrail records them: JSON text, URL-encoded
//! text, double-encoded text or an object; `Statement` as object or list; `Action`,
//! `NotAction`, `Resource` and principals as string or list.

use serde_json::Value;

use crate::event::Event;

/// A parsed policy document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// One statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    /// `Effect` as written (compare with [`Statement::is_allow`]).
    pub effect: String,
    pub actions: Vec<String>,
    /// `Some` when the statement uses `NotAction`.
    pub not_actions: Option<Vec<String>>,
    pub principal: Option<Principal>,
    pub resources: Vec<String>,
}

/// A statement's `Principal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `"Principal": "*"` (or a list containing `"*"`).
    pub wildcard: bool,
    /// `AWS` principals: ARNs, account ids or `*`.
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

impl Principal {
    /// Anyone: `"*"`, `{"AWS": "*"}` or a list containing `"*"`.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard || self.aws.iter().any(|a| a.trim() == "*")
    }
}

impl Statement {
    /// `Effect` is `Allow`, in any case.
    pub fn is_allow(&self) -> bool {
        self.effect.trim().eq_ignore_ascii_case("allow")
    }
}

/// String or list of strings; other shapes give an empty list.
pub fn string_or_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn parse_principal(v: &Value) -> Principal {
    let mut p = Principal::default();
    match v {
        Value::String(s) => {
            if s.trim() == "*" {
                p.wildcard = true;
            } else {
                p.aws.push(s.clone());
            }
        }
        Value::Array(_) => {
            for s in string_or_list(v) {
                if s.trim() == "*" {
                    p.wildcard = true;
                } else {
                    p.aws.push(s);
                }
            }
        }
        Value::Object(map) => {
            for (k, val) in map {
                let list = string_or_list(val);
                match k.to_ascii_lowercase().as_str() {
                    "aws" => p.aws.extend(list),
                    "service" => p.service.extend(list),
                    "federated" => p.federated.extend(list),
                    "canonicaluser" => p.canonical_user.extend(list),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    p
}

fn get_ci<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn parse_statement(v: &Value) -> Option<Statement> {
    let map = v.as_object()?;
    Some(Statement {
        effect: get_ci(map, "Effect").and_then(Value::as_str).unwrap_or_default().to_string(),
        actions: get_ci(map, "Action").map(string_or_list).unwrap_or_default(),
        not_actions: get_ci(map, "NotAction").map(string_or_list),
        principal: get_ci(map, "Principal").map(parse_principal),
        resources: get_ci(map, "Resource").map(string_or_list).unwrap_or_default(),
    })
}

impl Policy {
    /// A policy from a JSON value: an object with `Statement`, or a string holding one.
    pub fn from_value(v: &Value) -> Option<Policy> {
        match v {
            Value::String(s) => Policy::parse(s),
            Value::Object(map) => {
                let statements = match get_ci(map, "Statement")? {
                    Value::Array(items) => items.iter().filter_map(parse_statement).collect(),
                    single @ Value::Object(_) => parse_statement(single).into_iter().collect(),
                    _ => Vec::new(),
                };
                Some(Policy { statements })
            }
            _ => None,
        }
    }

    /// Parse policy text: JSON first, then URL-decoded, then with raw control characters
    /// replaced. `None` when nothing parses (not an alert, not a trap).
    pub fn parse(text: &str) -> Option<Policy> {
        Self::parse_depth(text, 0)
    }

    fn parse_depth(text: &str, depth: u8) -> Option<Policy> {
        if depth > 2 {
            return None;
        }
        let attempt = |t: &str| -> Option<Policy> {
            match serde_json::from_str::<Value>(t).ok()? {
                Value::String(inner) => Self::parse_depth(&inner, depth + 1),
                v => Policy::from_value(&v),
            }
        };
        if let Some(p) = attempt(text) {
            return Some(p);
        }
        let decoded = percent_decode(text);
        if decoded != text {
            if let Some(p) = attempt(&decoded) {
                return Some(p);
            }
        }
        let cleaned: String = decoded.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        attempt(&cleaned)
    }

    /// The policy at a field of the event (`requestParameters.policyDocument`), whether
    /// stored as text or as an object.
    pub fn from_event(event: &Event, path: &str) -> Option<Policy> {
        Policy::from_value(&event.field_value(path)?)
    }
}

/// Decode `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_object_or_list() {
        let one = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).expect("policy");
        assert_eq!(one.statements.len(), 1);
        assert!(one.statements[0].is_allow());
        assert_eq!(one.statements[0].actions, vec!["*"]);
        let many = Policy::parse(
            r#"{"Statement":[{"Effect":"deny","Action":["a","b"]},{"Effect":"ALLOW","NotAction":"iam:*"}]}"#,
        )
        .expect("policy");
        assert_eq!(many.statements.len(), 2);
        assert!(!many.statements[0].is_allow());
        assert!(many.statements[1].is_allow());
        assert_eq!(many.statements[1].not_actions.as_deref(), Some(&["iam:*".to_string()][..]));
    }

    #[test]
    fn url_encoded_and_double_encoded() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%7D%5D%7D";
        assert_eq!(Policy::parse(enc).expect("policy").statements[0].actions, vec!["*"]);
        let double = serde_json::to_string(r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#).expect("json");
        assert_eq!(Policy::parse(&double).expect("policy").statements[0].actions, vec!["s3:*"]);
        let raw_newlines = "{\"Statement\": {\"Effect\": \"Allow\",\n\t\"Action\": \"iam:*\"}}";
        assert_eq!(Policy::parse(raw_newlines).expect("policy").statements[0].actions, vec!["iam:*"]);
        assert!(Policy::parse("not a policy").is_none());
        assert!(Policy::parse("%ZZ").is_none());
    }

    #[test]
    fn principals() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*"},{"Effect":"Allow","Principal":["*"]},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]}},
            {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}]}"#,
        )
        .expect("policy");
        let w: Vec<bool> =
            p.statements.iter().map(|s| s.principal.as_ref().is_some_and(Principal::is_wildcard)).collect();
        assert_eq!(w, vec![true, true, true, false]);
        assert_eq!(
            p.statements[3].principal.as_ref().map(|p| p.service.clone()),
            Some(vec!["ec2.amazonaws.com".to_string()])
        );
    }
}
