import Glibc

/// Proof, kept in `pg_wal/.wal-archive/pushed/<file name>`, that push-ahead stored a file, so
/// that PostgreSQL's own later call for it can return 0 without a request. Written only after
/// the store acknowledged the object, durably (temporary file, fsync, rename, fsync of the
/// directory); trusted only when it parses, belongs to the same archive, and the file in
/// `pg_wal` still has the recorded `FileIdentity` (see there why that proves the content
/// unchanged without reading it). The SHA-256 of the content as uploaded is kept with it.
struct PushedRecord: Sendable, Equatable {
    static let formatTag = "wal-archive-pushed 2"

    var name: String
    var identity: FileIdentity
    var sha256Hex: String
    var key: String

    static func directory(walDirectory: String) -> String {
        walDirectory + "/.wal-archive/pushed"
    }

    /// One field a line (a key may hold spaces), the last line a checksum of the others.
    func encoded(archiveTag: String) -> String {
        RecordText.encode([Self.formatTag, archiveTag, name, identity.encoded, sha256Hex, key])
    }

    init(name: String, identity: FileIdentity, sha256Hex: String, key: String) {
        self.name = name
        self.identity = identity
        self.sha256Hex = sha256Hex
        self.key = key
    }

    /// Nil for anything torn, foreign or malformed.
    init?(text: String, archiveTag: String) {
        guard let lines = RecordText.decode(text, count: 7), lines[0] == Self.formatTag, lines[1] == archiveTag,
              let identity = FileIdentity(encoded: lines[3] + "\n" + lines[4]),
              lines[5].count == 64, !lines[6].isEmpty else { return nil }
        self.init(name: lines[2], identity: identity, sha256Hex: lines[5], key: lines[6])
    }

    /// Writes the record durably; any failure leaves no record (only a temporary file that
    /// the next call removes).
    func write(in directory: String, archiveTag: String) throws(FileOperations.Failure) {
        try FileOperations.createDirectories(directory)
        try FileOperations.writeAtomically(Array(encoded(archiveTag: archiveTag).utf8), to: directory + "/" + name, durable: true)
    }
}
