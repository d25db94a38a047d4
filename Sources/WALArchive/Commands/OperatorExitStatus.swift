/// Exit codes of `wal-archive` subcommands (they run by hand or from scripts, not from
/// PostgreSQL, so they only need to be distinct and stable).
public enum OperatorExitStatus: Int32, Sendable {
    case success = 0
    /// The store could not be reached or refused the request.
    case storageFailure = 1
    /// Usage or configuration error.
    case usageError = 2
    /// The data directory or WAL file given cannot tell which system it belongs to.
    case invalidSource = 3
    /// The archive belongs to another database system.
    case otherSystem = 4
    /// `check` or `verify` found problems, `prune` found nothing it can prune safely; each
    /// problem is named on its own line.
    case problemsFound = 5
}
