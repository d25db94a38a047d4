import Glibc

/// Where the previous segment of each timeline was found, kept between `wal-fetch` calls in
/// small files under `pg_wal/.wal-archive/`. A hint is only a starting point: it is written
/// without fsync, carries its own checksum and the archive it belongs to, and anything that
/// does not verify (torn write, other archive, garbage) is ignored.
public struct LocatorHints: Sendable {
    public struct Hint: Sendable, Equatable {
        /// The segment that was found (24 hex digits).
        public var segment: String
        /// Its date partition, or nil when it was found in the legacy flat layout.
        public var date: String?
        /// Its compression suffix (`.zst`, `.gz` or empty).
        public var suffix: String

        public init(segment: String, date: String?, suffix: String) {
            self.segment = segment
            self.date = date
            self.suffix = suffix
        }
    }

    static let formatTag = "wal-archive-hint 1"

    public let directory: String
    private let archiveTag: String

    /// `directory` is normally `<dir of %p>/.wal-archive`; the store identity keys the hints to
    /// one store so that pointing at another one never reuses them.
    public init(directory: String, storeIdentity: StoreIdentity) {
        self.directory = directory
        self.archiveTag = storeIdentity.tag
    }

    public func hint(timeline: String) -> Hint? {
        guard FileOperations.isPrivateDirectory(directory),
              let bytes = try? FileOperations.readWholeFile(path(timeline: timeline), limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("\n") else { return nil }
        let fields = text.dropLast().split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        // tag(2) archive timeline segment date suffix checksum
        guard fields.count == 8, fields[0] + " " + fields[1] == Self.formatTag else { return nil }
        let body = fields[0..<7].joined(separator: " ")
        guard fields[7] == Self.checksum(body), fields[2] == archiveTag, fields[3] == timeline,
              fields[4].count == 24, fields[4].hasPrefix(timeline) else { return nil }
        let date: String? = fields[5] == "flat" ? nil : fields[5]
        if let date, !StorageLayout.isCalendarDate(Substring(date)) { return nil }
        let suffix = fields[6] == "-" ? "" : fields[6]
        guard suffix.isEmpty || (suffix.hasPrefix(".") && suffix.count <= 8) else { return nil }
        return Hint(segment: fields[4], date: date, suffix: suffix)
    }

    /// Best effort: a hint that cannot be written only costs the next fetch a few requests.
    public func record(_ hint: Hint) {
        let timeline = String(hint.segment.prefix(8))
        // Same partition and not going backwards: the hint on disk still leads straight here.
        if let existing = self.hint(timeline: timeline), existing.date == hint.date, existing.suffix == hint.suffix,
           existing.segment <= hint.segment {
            return
        }
        let body = [Self.formatTag, archiveTag, timeline, hint.segment, hint.date ?? "flat",
                    hint.suffix.isEmpty ? "-" : hint.suffix].joined(separator: " ")
        let line = body + " " + Self.checksum(body) + "\n"
        // Only in a private directory: never through a symlink, never where another user writes.
        guard FileOperations.preparePrivateDirectory(directory) else { return }
        // Not durable: a hint lost in a crash only costs a search.
        try? FileOperations.writeAtomically(Array(line.utf8), to: path(timeline: timeline), durable: false)
    }

    private func path(timeline: String) -> String {
        directory + "/hint-" + timeline
    }

    private static func checksum(_ body: String) -> String {
        String(SHA256Hasher.hash(Array(body.utf8)).hexString.prefix(16))
    }
}
