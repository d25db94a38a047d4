/// What the signal files in a data directory say PostgreSQL is doing: `standby.signal` makes
/// it a standby (it keeps asking for the next segment), `recovery.signal` an archive recovery
/// (it ends, and promotes, at the end of the archive or at the target).
public enum RecoveryState: Sendable, Equatable {
    case notRecovering
    case archiveRecovery
    case standby

    public init(dataDirectory: String) {
        if FileOperations.exists(dataDirectory + "/standby.signal") {
            self = .standby
        } else if FileOperations.exists(dataDirectory + "/recovery.signal") {
            self = .archiveRecovery
        } else {
            self = .notRecovering
        }
    }

    public var isRecovering: Bool { self != .notRecovering }
}
