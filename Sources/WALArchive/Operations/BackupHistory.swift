/// A backup history file (`<segment>.<offset>.backup`, written by pg_backup_stop and archived
/// like a segment), parsed: where the base backup's WAL starts and stops, and its label and times.
///
///     START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
///     STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)
///     CHECKPOINT LOCATION: 0/2000060
///     START TIME: 2026-11-28 07:00:00 UTC
///     LABEL: pg_basebackup base backup
///     START TIMELINE: 1
///     STOP TIME: 2026-11-28 07:00:01 UTC
///     STOP TIMELINE: 1
public struct BackupHistory: Sendable, Equatable {
    public var startLSN: UInt64
    public var startSegment: WALFileName
    public var stopLSN: UInt64
    public var stopSegment: WALFileName
    public var label: String
    /// As PostgreSQL wrote them (in the server's log_timezone); empty when absent.
    public var startTime: String
    public var stopTime: String

    public init(parsing text: [UInt8], name: WALFileName) throws(WALValidationError) {
        try WALFileValidator.validateBackupHistory(text, as: name)
        var fields: [String: String] = [:]
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let string = String(decoding: line, as: UTF8.self)
            guard let colon = string.firstIndex(of: ":") else { continue }
            let value = string[string.index(after: colon)...].drop { $0 == " " }
            // The first occurrence counts (a label cannot hold a newline, so lines are fields).
            if fields[String(string[..<colon])] == nil { fields[String(string[..<colon])] = String(value) }
        }
        func location(_ field: String) throws(WALValidationError) -> (UInt64, WALFileName) {
            // `X/X (file <segment>)`
            let parts = (fields[field] ?? "").split(separator: " ")
            guard parts.count == 3, let lsn = WALFileValidator.parseLSN(Array(parts[0].utf8)[...]), parts[1] == "(file",
                  parts[2].hasSuffix(")"), let segment = try? WALFileName(parsing: String(parts[2].dropLast())),
                  segment.kind == .segment else {
                throw .invalidBackupHistory(name: name.description, reason: "its \(field) line is not `X/X (file <segment>)`")
            }
            return (lsn, segment)
        }
        (startLSN, startSegment) = try location("START WAL LOCATION")
        (stopLSN, stopSegment) = try location("STOP WAL LOCATION")
        label = fields["LABEL"] ?? ""
        startTime = fields["START TIME"] ?? ""
        stopTime = fields["STOP TIME"] ?? ""
    }
}
