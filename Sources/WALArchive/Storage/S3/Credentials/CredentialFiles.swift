import Glibc

/// Reading the small files credential sources name (tokens), with errors that name the
/// file and never its content.
enum CredentialFiles {
    /// The file's text without surrounding whitespace; an empty file is an error.
    static func readToken(_ path: String, purpose: String) throws(StorageError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(path, limit: 64 * 1024)
        } catch {
            throw .accessDenied(detail: "cannot read the \(purpose): \(error.message)")
        }
        let token = trimmed(String(decoding: bytes, as: UTF8.self))
        guard !token.isEmpty else { throw .accessDenied(detail: "the \(purpose) \(path) is empty") }
        return token
    }

    /// `wal-archive-<seconds>`: what STS records in CloudTrail when no name is configured.
    static func defaultSessionName() -> String {
        "wal-archive-\(UTCTime.now().secondsSinceEpoch)"
    }

    static func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = text.firstIndex(where: { !isSpace($0) }), let end = text.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(text[start...end])
    }
}
