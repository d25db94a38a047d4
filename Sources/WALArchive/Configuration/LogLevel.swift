/// What `wal-push` and `wal-fetch` write to stderr (which PostgreSQL's log collects).
public enum LogLevel: String, Sendable, Equatable {
    /// Nothing on success, one line on failure (the default: a busy server archives a
    /// segment every few seconds, and the log is for what needs attention).
    case error
    /// Also one logfmt line per call: file, key, bytes, stored bytes, duration, requests,
    /// attempts, result.
    case info
}
