//! An alert as a notification: the subject line, the readable body and the message
//! attributes the SNS sink publishes. Pure formatting, no SDK, so it is unit-tested here and
//! the adapter (`aws/sns.rs`) only moves the three parts.
//!
//! The format is the original design's (`[SEVERITY] IAM Alert: <title>`, then a plain-text
//! body with the event details and the action line), so subscribers' e-mail rules and
//! filter policies keep working. What is new is that every field is made safe first:
//! - the alert's fields are untrusted. User names, event names, source IPs and the plugin's
//!   title and message all come from CloudTrail records or plugins, and a hostile value
//!   such as a user name `x\nSeverity: LOW` must not be able to add or forge a line of the
//!   alert. [`one_line`] escapes newlines, tabs, every other control character and the
//!   Unicode line separators and bidirectional overrides, and caps the length;
//! - SNS subjects must be printable text with no line breaks or control characters, and
//!   shorter than 100 characters. The subject is kept to printable ASCII (other characters
//!   become `?`, which every e-mail client shows as is), never starts with whitespace, and
//!   is cut to [`SUBJECT_MAX`] characters with a trailing `...`;
//! - an SNS message attribute must not be empty: a missing value is [`UNKNOWN`].

use crate::report::RaisedAlert;

/// The longest subject published: SNS wants fewer than 100 characters.
pub const SUBJECT_MAX: usize = 99;
/// The longest title, message, and other field printed in the body (characters, before
/// escaping); longer values are cut with [`CUT_MARK`].
pub const TITLE_MAX: usize = 200;
/// The longest alert message printed in the body.
pub const MESSAGE_MAX: usize = 4000;
/// The longest event detail (user, event name, IP, id, time, region) or attribute value.
pub const FIELD_MAX: usize = 256;
/// What ends a value that was cut.
pub const CUT_MARK: &str = "...";
/// Printed (and published as an attribute) for a missing or empty value.
pub const UNKNOWN: &str = "unknown";

/// The names of the message attributes, for subscription filter policies.
pub const ATTRIBUTE_NAMES: [&str; 3] = ["severity", "event_name", "detector"];

/// An alert formatted for a notification service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertText {
    /// `[CRITICAL] IAM Alert: Root Account Login`: printable ASCII, at most [`SUBJECT_MAX`].
    pub subject: String,
    /// The readable body (see [`body`]).
    pub body: String,
    /// `severity` (upper case, as the original), `event_name`, `detector`: never empty.
    pub attributes: Vec<(&'static str, String)>,
}

impl AlertText {
    /// Subject, body and attributes of `alert`.
    pub fn of(alert: &RaisedAlert) -> Self {
        AlertText { subject: subject(alert), body: body(alert), attributes: attributes(alert) }
    }
}

/// The alert's severity as the original wrote it: `CRITICAL`, `HIGH`, `WARNING`, `INFO`.
pub fn severity_label(alert: &RaisedAlert) -> String {
    alert.severity.as_str().to_ascii_uppercase()
}

/// `[SEVERITY] IAM Alert: <title>`, printable ASCII only, at most [`SUBJECT_MAX`] characters.
pub fn subject(alert: &RaisedAlert) -> String {
    let title = alert.title.trim();
    let title = if title.is_empty() { "(no title)" } else { title };
    let raw = format!("[{}] IAM Alert: {title}", severity_label(alert));
    let mut ascii: String = raw
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_whitespace() || c.is_control() => ' ',
            _ => '?',
        })
        .collect();
    // Runs of spaces (from replaced newlines or tabs) read as one.
    while ascii.contains("  ") {
        ascii = ascii.replace("  ", " ");
    }
    let ascii = ascii.trim();
    if ascii.len() <= SUBJECT_MAX {
        return ascii.to_string();
    }
    // Every character is ASCII here, so byte offsets are character boundaries.
    let cut = ascii[..SUBJECT_MAX - CUT_MARK.len()].trim_end();
    format!("{cut}{CUT_MARK}")
}

/// The body, as the original (without its leading empty line), plus the detector:
///
/// ```text
/// IAM Activity Alert: Root Account Login
///
/// Severity: CRITICAL
/// Time: 2025-08-10T18:26:07Z
/// Region: us-east-1
///
/// Root account console login detected from IP 203.0.113.9
///
/// Event Details:
/// - Event Name: ConsoleLogin
/// - User: root
/// - Source IP: 203.0.113.9
/// - Event ID: 0b2d...
/// - Detector: root-activity
///
/// Action Required: Review this activity immediately in CloudTrail.
/// ```
///
/// Every field goes through [`one_line`], so the body has exactly these lines whatever the
/// values hold.
pub fn body(alert: &RaisedAlert) -> String {
    let f = |v: Option<&str>| field(v, FIELD_MAX);
    let title = field(Some(&alert.title), TITLE_MAX);
    let message = field(Some(&alert.message), MESSAGE_MAX);
    format!(
        "IAM Activity Alert: {title}\n\
         \n\
         Severity: {severity}\n\
         Time: {time}\n\
         Region: {region}\n\
         \n\
         {message}\n\
         \n\
         Event Details:\n\
         - Event Name: {event_name}\n\
         - User: {user}\n\
         - Source IP: {ip}\n\
         - Event ID: {id}\n\
         - Detector: {detector}\n\
         \n\
         Action Required: Review this activity immediately in CloudTrail.\n",
        severity = severity_label(alert),
        time = f(alert.event_time.as_deref()),
        region = f(alert.aws_region.as_deref()),
        event_name = f(Some(&alert.event_name)),
        user = f(Some(&alert.user_name)),
        ip = f(alert.source_ip.as_deref()),
        id = f(alert.event_id.as_deref()),
        detector = f(Some(&alert.detector)),
    )
}

/// The message attributes: `severity`, `event_name`, `detector`, each one line, capped,
/// and never empty.
pub fn attributes(alert: &RaisedAlert) -> Vec<(&'static str, String)> {
    let [sev, name, det] = ATTRIBUTE_NAMES;
    vec![
        (sev, severity_label(alert)),
        (name, field(Some(&alert.event_name), FIELD_MAX)),
        (det, field(Some(&alert.detector), FIELD_MAX)),
    ]
}

/// A value for one line: [`one_line`], or [`UNKNOWN`] when missing or blank.
fn field(v: Option<&str>, max_chars: usize) -> String {
    match v.map(str::trim) {
        Some(s) if !s.is_empty() => one_line(s, max_chars),
        _ => UNKNOWN.to_string(),
    }
}

/// Whether `c` could start a new line, hide text or reorder it when displayed: control
/// characters (C0, DEL, C1), the Unicode line and paragraph separators, and the
/// bidirectional embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` made safe for one line of a plain-text alert: at most `max_chars` characters of it
/// are kept (then [`CUT_MARK`]); `\n`, `\r` and `\t` become the two characters `\n`, `\r`,
/// `\t`, and other unsafe characters (see [`is_unsafe`]) become `\u{XXXX}`. Backslashes are
/// kept as they are: they cannot break a line.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2));
    let mut chars = s.chars();
    for c in chars.by_ref().take(max_chars) {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:04X}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    if chars.next().is_some() {
        out.push_str(CUT_MARK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn alert() -> RaisedAlert {
        RaisedAlert {
            event_id: Some("0b2d6c1e-1111-2222-3333-444455556666".into()),
            event_time: Some("2025-08-10T18:26:07Z".into()),
            event_source: "signin.amazonaws.com".into(),
            event_name: "ConsoleLogin".into(),
            user_name: "root".into(),
            aws_region: Some("us-east-1".into()),
            source_ip: Some("203.0.113.9".into()),
            detector: "root-activity".into(),
            severity: Severity::Critical,
            title: "Root Account Login".into(),
            message: "Root account console login detected from IP 203.0.113.9".into(),
            dedup_key: "root-activity:0b2d".into(),
            source: "test record 0".into(),
            context: Vec::new(),
        }
    }

    #[test]
    fn the_original_format_exactly() {
        let t = AlertText::of(&alert());
        assert_eq!(t.subject, "[CRITICAL] IAM Alert: Root Account Login");
        assert_eq!(
            t.body,
            "IAM Activity Alert: Root Account Login\n\
             \n\
             Severity: CRITICAL\n\
             Time: 2025-08-10T18:26:07Z\n\
             Region: us-east-1\n\
             \n\
             Root account console login detected from IP 203.0.113.9\n\
             \n\
             Event Details:\n\
             - Event Name: ConsoleLogin\n\
             - User: root\n\
             - Source IP: 203.0.113.9\n\
             - Event ID: 0b2d6c1e-1111-2222-3333-444455556666\n\
             - Detector: root-activity\n\
             \n\
             Action Required: Review this activity immediately in CloudTrail.\n"
        );
        assert_eq!(
            t.attributes,
            vec![
                ("severity", "CRITICAL".to_string()),
                ("event_name", "ConsoleLogin".to_string()),
                ("detector", "root-activity".to_string())
            ]
        );
    }

    /// The lines of a body that start like a field line, e.g. `Severity:`.
    fn lines_starting(body: &str, prefix: &str) -> usize {
        body.lines().filter(|l| l.trim_start().starts_with(prefix)).count()
    }

    #[test]
    fn hostile_values_cannot_forge_lines() {
        let mut a = alert();
        a.user_name = "mallory\nSeverity: LOW\r\n- Source IP: 10.0.0.1".into();
        a.event_name = "ConsoleLogin\u{2028}Action Required: none".into();
        a.title = "Root\nAccount\tLogin".into();
        a.message = "login by mallory\n\nEvent Details:\n- Event ID: fake\u{202E}gnp.exe\u{7}\u{1b}[31m".into();
        a.source_ip = Some("1.2.3.4\u{85}Region: eu-west-1".into());
        a.event_time = Some("2025-08-10T18:26:07Z\nTime: 1999-01-01".into());
        a.aws_region = Some("\u{0}us-east-1".into());
        let t = AlertText::of(&a);
        let clean = AlertText::of(&alert());
        // Same shape as a clean alert: the same number of lines, each field line once.
        assert_eq!(t.body.lines().count(), clean.body.lines().count(), "{}", t.body);
        for prefix in
            ["Severity:", "Time:", "Region:", "Event Details:", "- Source IP:", "- Event ID:", "Action Required:"]
        {
            assert_eq!(lines_starting(&t.body, prefix), 1, "{prefix} in\n{}", t.body);
        }
        assert!(t.body.contains("Severity: CRITICAL\n"), "{}", t.body);
        assert!(t.body.contains("- User: mallory\\nSeverity: LOW\\r\\n- Source IP: 10.0.0.1\n"), "{}", t.body);
        assert!(t.body.contains("- Event Name: ConsoleLogin\\u{2028}Action Required: none\n"), "{}", t.body);
        assert!(t.body.contains("IAM Activity Alert: Root\\nAccount\\tLogin\n"), "{}", t.body);
        assert!(t.body.contains("fake\\u{202E}gnp.exe\\u{0007}\\u{001B}[31m\n"), "{}", t.body);
        assert!(t.body.contains("- Source IP: 1.2.3.4\\u{0085}Region: eu-west-1\n"), "{}", t.body);
        assert!(t.body.contains("Region: \\u{0000}us-east-1\n"), "{}", t.body);
        assert!(!t.body.chars().any(|c| c != '\n' && is_unsafe(c)), "{:?}", t.body);
        assert_eq!(t.subject, "[CRITICAL] IAM Alert: Root Account Login");
        assert_eq!(t.attributes[1].1, "ConsoleLogin\\u{2028}Action Required: none");
    }

    #[test]
    fn long_values_are_capped_on_char_boundaries() {
        let mut a = alert();
        a.user_name = "é".repeat(FIELD_MAX + 50);
        a.message = "ü".repeat(MESSAGE_MAX * 3);
        a.title = "✓".repeat(500);
        let t = AlertText::of(&a);
        assert!(t.body.contains(&format!("- User: {}...\n", "é".repeat(FIELD_MAX))), "{}", t.body);
        assert!(t.body.contains(&format!("\n{}...\n", "ü".repeat(MESSAGE_MAX))));
        assert!(t.body.contains(&format!("IAM Activity Alert: {}...\n", "✓".repeat(TITLE_MAX))));
        assert!(t.body.len() < 64 * 1024, "well inside SNS's 256 KB: {}", t.body.len());
        // The subject: ASCII, under 100 characters, cut with "...".
        assert_eq!(t.subject.len(), SUBJECT_MAX);
        assert_eq!(t.subject, format!("[CRITICAL] IAM Alert: {}...", "?".repeat(SUBJECT_MAX - 22 - 3)));
        // A value exactly at the cap is not marked as cut.
        assert_eq!(one_line(&"a".repeat(10), 10), "a".repeat(10));
        assert_eq!(one_line(&"a".repeat(11), 10), format!("{}...", "a".repeat(10)));
    }

    #[test]
    fn subjects_are_printable_ascii_without_breaks() {
        let mut a = alert();
        a.severity = Severity::High;
        a.title = "  Access\r\nKey\tCreated for Zoë \u{202E}\u{7} ".into();
        let s = subject(&a);
        assert_eq!(s, "[HIGH] IAM Alert: Access Key Created for Zo? ?");
        assert!(s.chars().all(|c| (' '..='~').contains(&c)));
        a.title = "   ".into();
        assert_eq!(subject(&a), "[HIGH] IAM Alert: (no title)");
        // 99 characters exactly are kept; 100 are cut.
        a.title = "x".repeat(SUBJECT_MAX - 18);
        assert_eq!(subject(&a).len(), SUBJECT_MAX);
        assert!(!subject(&a).ends_with("..."));
        a.title.push('y');
        let s = subject(&a);
        assert_eq!(s.len(), SUBJECT_MAX);
        assert!(s.ends_with("x..."), "{s}");
        // Words are not left with a space before the cut mark.
        a.title = format!("{} {}", "w".repeat(SUBJECT_MAX - 18 - 3 - 1), "tail-word-that-is-cut");
        assert!(subject(&a).ends_with("w..."), "{}", subject(&a));
    }

    #[test]
    fn attributes_are_never_empty() {
        let mut a = alert();
        a.event_name = String::new();
        a.detector = " ".into();
        a.severity = Severity::Warning;
        let attrs = attributes(&a);
        assert_eq!(
            attrs,
            vec![
                ("severity", "WARNING".to_string()),
                ("event_name", UNKNOWN.to_string()),
                ("detector", UNKNOWN.to_string())
            ]
        );
        a.event_id = None;
        a.source_ip = None;
        a.event_time = None;
        a.aws_region = None;
        a.user_name = String::new();
        let b = body(&a);
        for line in
            ["Time: unknown", "Region: unknown", "- User: unknown", "- Source IP: unknown", "- Event ID: unknown"]
        {
            assert!(b.contains(&format!("{line}\n")), "{line} in\n{b}");
        }
    }
}
