/// Exit codes, as PostgreSQL's archive and restore contract reads them (PostgreSQL 15 docs,
/// "25.3.1. Setting Up WAL Archiving" and "restore_command" in 20.5.4 / 25.3.4).
public enum FetchExitStatus: Int32, Sendable {
    /// `%p` is completely written and verified.
    case restored = 0
    /// The file definitely does not exist in the archive (or, in standby mode, a transient
    /// failure: the standby retries anyway).
    case notFound = 1
    /// Anything else. PostgreSQL treats an exit status above 125 as fatal, so archive
    /// recovery stops instead of ending early and promoting at the wrong point.
    case fatal = 255
}

extension RestoreError {
    /// In standby mode PostgreSQL keeps calling restore_command, so a transient failure may
    /// look like "not found"; during archive recovery it must stop recovery instead.
    public func exitStatus(standbyMode: Bool) -> FetchExitStatus {
        if case .notFound = self { return .notFound }
        return standbyMode && isTransient ? .notFound : .fatal
    }
}
