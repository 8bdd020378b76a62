//! Collection windows for CloudTrail LookupEvents, as pure arithmetic on epoch seconds.
//!
//! LookupEvents answers newest first, 50 events a page. To lose nothing, a run walks its
//! window in time slices **oldest first**, pages each slice completely, and moves the
//! checkpoint to a slice's end only after that slice's events are stored. A run that
//! runs out of time stops between slices; the next run resumes at the checkpoint.
//!
//! - The window ends at `now - buffer` (5 minutes by default): CloudTrail is still
//!   delivering the last minutes.
//! - It starts `overlap` (15 minutes by default) before the checkpoint, to catch events
//!   delivered late; writes are idempotent by event id, so the overlap cannot duplicate.
//! - Without a checkpoint (the initial load) it starts at `now - lookback` (90 days, all
//!   that LookupEvents keeps), and it never starts earlier than that.

/// Window settings, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    pub overlap: i64,
    pub buffer: i64,
    pub lookback: i64,
    /// Length of one slice.
    pub slice: i64,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig { overlap: 15 * 60, buffer: 5 * 60, lookback: 90 * 86_400, slice: 6 * 3600 }
    }
}

/// A closed time range `[start, end]` in epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

/// The window this run should read, or `None` when there is nothing new yet.
/// `checkpoint` is the end of the last fully stored slice.
pub fn window(checkpoint: Option<i64>, now: i64, cfg: &WindowConfig) -> Option<Span> {
    let end = now - cfg.buffer;
    let floor = now - cfg.lookback;
    let start = match checkpoint {
        Some(c) => (c - cfg.overlap).max(floor),
        None => floor,
    };
    (start < end).then_some(Span { start, end })
}

/// Split a window into slices, oldest first. The last slice may be shorter.
pub fn slices(span: Span, slice: i64) -> Vec<Span> {
    let slice = slice.max(1);
    let mut out = Vec::new();
    let mut s = span.start;
    while s < span.end {
        let e = (s + slice).min(span.end);
        out.push(Span { start: s, end: e });
        s = e;
    }
    out
}

/// The checkpoint after storing a slice: it only moves forward.
pub fn advance(checkpoint: Option<i64>, stored_slice: Span) -> i64 {
    checkpoint.map_or(stored_slice.end, |c| c.max(stored_slice.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn initial_load_covers_lookback_up_to_buffer() {
        let cfg = WindowConfig::default();
        let w = window(None, NOW, &cfg).expect("window");
        assert_eq!(w, Span { start: NOW - 90 * 86_400, end: NOW - 300 });
        let s = slices(w, cfg.slice);
        assert_eq!(s.first().map(|x| x.start), Some(w.start));
        assert_eq!(s.last().map(|x| x.end), Some(w.end));
        assert!(s.windows(2).all(|p| p[0].end == p[1].start), "slices are contiguous, oldest first");
    }

    #[test]
    fn later_runs_reread_the_overlap() {
        let cfg = WindowConfig::default();
        let cp = NOW - 3600;
        assert_eq!(window(Some(cp), NOW, &cfg), Some(Span { start: cp - 900, end: NOW - 300 }));
        // A checkpoint older than the lookback is clamped to what LookupEvents still has.
        assert_eq!(window(Some(NOW - 200 * 86_400), NOW, &cfg).map(|w| w.start), Some(NOW - 90 * 86_400));
        // Nothing to read when the checkpoint is past the buffer.
        assert_eq!(window(Some(NOW + 1000), NOW, &cfg), None);
    }

    #[test]
    fn checkpoint_only_moves_forward() {
        assert_eq!(advance(Some(100), Span { start: 0, end: 50 }), 100);
        assert_eq!(advance(Some(100), Span { start: 90, end: 150 }), 150);
        assert_eq!(advance(None, Span { start: 0, end: 50 }), 50);
        assert!(slices(Span { start: 5, end: 5 }, 10).is_empty());
    }
}
