//! CloudTrail LookupEvents as a source: one task per (region, source), time slices oldest first.
