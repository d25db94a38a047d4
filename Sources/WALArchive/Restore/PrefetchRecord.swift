import Glibc

/// Proof, kept in `pg_wal/.wal-archive/prefetch-records/<prefetched file's name>`, that the
/// prefetched file of that name is still the very file the worker verified and wrote, so that
/// serving it needs no second reading of its bytes (only of its page header).
///
/// Why that is safe. The worker verifies the bytes as it writes them (`VerifyingFileSink`:
/// size, SHA-256 against the archive's `wal-sha256`, page header, the system identifier
/// against the archive identity), renames the file into place, and takes its `FileIdentity`
/// (file system, inode, size, modification and status-change times to the nanosecond).
/// Only once that identity is older than a timestamp tick (`FileIdentity.settleNanoseconds`)
/// and unchanged does it fsync the file and write this record: any change after the record
/// (a write through any path, a truncation, times set back with utimensat, which sets the
/// status-change time to now; a replacement, which is another inode) makes the identity
/// differ, and the serving call then reads and hashes the file as it always did. A change in
/// the very tick of the worker's rename would go unseen; only a process of this user writing
/// into its private directory (`WALDirectory.trustedStateDirectory`) could make one, at a
/// name it cannot know before the rename.
///
/// The record names the boot it was written in (`BootIdentifier`): the page cache is the
/// file only within a boot, and a crash may have left the disk with less than was verified,
/// under an unchanged identity (inode numbers and times can come back after a reboot); so a
/// record of another boot is not trusted. It names the store (`StoreIdentity.tag`) and the
/// prefetched file's full name (segment, store tag, SHA-256). Anything that does not match
/// exactly, or does not parse, or whose checksum (`RecordText`) fails, only costs the full
/// verification; it can never place other bytes at `%p`. A record is used up when its file
/// is served.
///
/// Not durable on purpose (no fsync): it is worth nothing after a crash anyway.
struct PrefetchRecord: Sendable, Equatable {
    static let formatTag = "wal-archive-prefetched 1"

    /// `<segment>.<store tag>.<SHA-256>`, the prefetched file's name.
    var fileName: String
    var bootIdentifier: String
    var identity: FileIdentity

    func encoded(archiveTag: String) -> String {
        RecordText.encode([Self.formatTag, archiveTag, fileName, bootIdentifier, identity.encoded])
    }

    init(fileName: String, bootIdentifier: String, identity: FileIdentity) {
        self.fileName = fileName
        self.bootIdentifier = bootIdentifier
        self.identity = identity
    }

    /// Nil for anything torn, foreign (another store) or malformed.
    init?(text: String, archiveTag: String) {
        guard let lines = RecordText.decode(text, count: 6), lines[0] == Self.formatTag, lines[1] == archiveTag,
              let identity = FileIdentity(encoded: lines[4] + "\n" + lines[5]) else { return nil }
        self.init(fileName: lines[2], bootIdentifier: lines[3], identity: identity)
    }

    /// True when this record vouches for the prefetched file `fileName` whose identity is
    /// `identity` now, in the boot `bootIdentifier`.
    func vouches(for fileName: String, identity: FileIdentity?, bootIdentifier: String?) -> Bool {
        guard let identity, let bootIdentifier else { return false }
        return fileName == self.fileName && bootIdentifier == self.bootIdentifier && identity == self.identity
    }

    /// Reads the record of `fileName` and removes it (a record is used once; a file served by
    /// full verification leaves none behind either). Nil when there is none or it is not valid.
    static func take(fileName: String, in directory: String, archiveTag: String) -> PrefetchRecord? {
        let path = directory + "/" + fileName
        guard let bytes = try? FileOperations.readWholeFile(path, limit: 4096) else { return nil }
        unlink(path)
        return PrefetchRecord(text: String(decoding: bytes, as: UTF8.self), archiveTag: archiveTag)
    }

    /// Written under a temporary name and renamed, so a reader sees all of it or nothing.
    func write(in directory: String, archiveTag: String) throws(FileOperations.Failure) {
        try FileOperations.writeAtomically(Array(encoded(archiveTag: archiveTag).utf8), to: directory + "/" + fileName, durable: false)
    }
}
