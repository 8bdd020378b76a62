//! The embedded store: SQLite (rusqlite, WAL). See `docs/architecture.md` for why.
