/// Which database system an archive belongs to, kept in the archive itself as
/// `<prefix>/wal-archive.json` (written once, by `wal-archive init`), like pgBackRest's stanza:
///
///     {
///       "created": "2026-11-28T10:15:00Z",
///       "format": 1,
///       "postgresql_major_version": 15,
///       "system_identifier": "7300000000000000001",
///       "wal_segment_size": 16777216
///     }
///
/// The system identifier is a string: it needs all 64 bits, more than a JSON number keeps in
/// most tools. Reading is strict: every field must be present and valid, and a field this
/// version does not know is refused, never skipped, so that a later field that changes how
/// objects are written (encryption, say) can never be ignored by an older `wal-push`; such a
/// field comes with a new `format` number, which older versions refuse by name.
///
/// An encrypted archive (client-side encryption, `wal-archive init` with a key configured) is
/// format 2, with two more fields: `"encryption": "aes-256-gcm"` and `"encryption_key_ids"`,
/// the ids of the keys `wal-push` may encrypt with (`wal-archive add-key` appends one). A
/// version that knows only format 1 refuses it, so it can never store plaintext there.
public struct ArchiveIdentity: Sendable, Equatable {
    public static let format: Int64 = 1
    public static let encryptedFormat: Int64 = 2
    public static let fields: Set<String> = ["created", "format", "postgresql_major_version", "system_identifier", "wal_segment_size"]
    public static let encryptionFields: Set<String> = ["encryption", "encryption_key_ids"]
    /// Far more than rotation needs, and bounded.
    public static let maximumKeyIDs = 64

    public var systemIdentifier: UInt64
    public var postgresMajorVersion: Int
    public var walSegmentSize: WALSegmentSize
    /// When `wal-archive init` wrote it, `YYYY-MM-DDTHH:MM:SSZ`.
    public var created: String
    /// The ids of the keys objects are encrypted with (`EncryptionKey.id`), oldest first; nil
    /// for an archive without client-side encryption.
    public var encryptionKeyIDs: [String]?

    public init(systemIdentifier: UInt64, postgresMajorVersion: Int, walSegmentSize: WALSegmentSize, created: String,
                encryptionKeyIDs: [String]? = nil) {
        self.systemIdentifier = systemIdentifier
        self.postgresMajorVersion = postgresMajorVersion
        self.walSegmentSize = walSegmentSize
        self.created = created
        self.encryptionKeyIDs = encryptionKeyIDs
    }

    public var isEncrypted: Bool { encryptionKeyIDs != nil }

    /// How a reader with `keys` treats this archive's objects: in an encrypted archive, or with
    /// an encryption key configured, every object must be encrypted (and one of `keys` must fit).
    public func decryption(keys: EncryptionKeyring?) -> ObjectDecryption {
        ObjectDecryption(keyring: keys, required: isEncrypted || keys?.writeKey != nil)
    }

    /// Why `wal-push` with `writeKey` (the configured `encryption_key_file`, if any) may not
    /// store into this archive; nil when it may. An encrypted archive takes only objects of one
    /// of its keys, an unencrypted one only plaintext (a reader without keys reads all of it).
    public func encryptionProblem(writeKey: EncryptionKey?) -> String? {
        let setting = "WAL_ARCHIVE_ENCRYPTION_KEY_FILE (or --encryption-key-file, `encryption_key_file` in the config file)"
        switch (encryptionKeyIDs, writeKey) {
        case (nil, nil):
            return nil
        case (let ids?, nil):
            return "is encrypted (key ids \(ids.joined(separator: ", "))), and no encryption key is configured: set "
                + "\(setting) to the file of its newest key"
        case (let ids?, let key?):
            guard !ids.contains(key.id) else { return nil }
            return "is encrypted with key ids \(ids.joined(separator: ", ")), not with the configured key \(key.id): "
                + "configure one of its keys, or add this one with `wal-archive add-key` (docs/security.md)"
        case (nil, let key?):
            return "is not encrypted, and an encryption key (\(key.id)) is configured: remove the encryption_key_file "
                + "setting, or archive to a new prefix created encrypted by `wal-archive init` with the key configured"
        }
    }

    /// `encrypted (keys 1a2b…, 3c4d…)` or `not encrypted`.
    public var encryptionSummary: String {
        guard let encryptionKeyIDs else { return "not encrypted" }
        return "encrypted with \(EncryptedStream.cipherName), key ids " + encryptionKeyIDs.joined(separator: ", ")
    }

    /// Same database system: what decides whether an archive may take a cluster's files
    /// (the creation time does not matter).
    public func isSameSystem(as other: ArchiveIdentity) -> Bool {
        systemIdentifier == other.systemIdentifier && postgresMajorVersion == other.postgresMajorVersion
            && walSegmentSize == other.walSegmentSize
    }

    /// `system 7300000000000000001 (PostgreSQL 15, 16 MiB WAL segments)`.
    public var summary: String {
        "system \(systemIdentifier) (PostgreSQL \(postgresMajorVersion), \(walSegmentSize) WAL segments)"
    }

    public var encoded: [UInt8] {
        var members: [String: JSONValue] = [
            "created": .string(created),
            "format": .integer(Self.format),
            "postgresql_major_version": .integer(Int64(postgresMajorVersion)),
            "system_identifier": .string(String(systemIdentifier)),
            "wal_segment_size": .integer(Int64(walSegmentSize.bytes)),
        ]
        if let encryptionKeyIDs {
            members["format"] = .integer(Self.encryptedFormat)
            members["encryption"] = .string(EncryptedStream.cipherName)
            members["encryption_key_ids"] = .array(encryptionKeyIDs.map { .string($0) })
        }
        return Array((JSONValue.object(members).encoded() + "\n").utf8)
    }

    public init(parsing bytes: [UInt8]) throws(ArchiveIdentityFormatError) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw .notJSON(error)
        }
        guard case .object(let members) = document else { throw .invalidField("the document", expected: "an object") }
        guard case .integer(let format) = members["format"] else { throw .invalidField("format", expected: "a whole number") }
        guard format == Self.format || format == Self.encryptedFormat else { throw .unsupportedFormat(format) }
        let known = format == Self.encryptedFormat ? Self.fields.union(Self.encryptionFields) : Self.fields
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unknownField(unknown)
        }
        var keyIDs: [String]?
        if format == Self.encryptedFormat {
            guard case .string(EncryptedStream.cipherName) = members["encryption"] else {
                throw .invalidField("encryption", expected: "\"\(EncryptedStream.cipherName)\"")
            }
            guard case .array(let elements) = members["encryption_key_ids"], !elements.isEmpty,
                  elements.count <= Self.maximumKeyIDs else {
                throw .invalidField("encryption_key_ids", expected: "a list of 1 to \(Self.maximumKeyIDs) key ids")
            }
            var ids: [String] = []
            for element in elements {
                guard case .string(let id) = element, EncryptionKey.isKeyID(id), !ids.contains(id) else {
                    throw .invalidField("encryption_key_ids", expected: "distinct key ids of 16 lower-case hex digits")
                }
                ids.append(id)
            }
            keyIDs = ids
        }
        guard case .string(let system) = members["system_identifier"], let systemIdentifier = Self.decimal(system),
              systemIdentifier != 0 else {
            throw .invalidField("system_identifier", expected: "the system identifier in decimal digits, as a string")
        }
        guard case .integer(let version) = members["postgresql_major_version"],
              let majorVersion = Int(exactly: version), WALPageMagic.magic(ofMajorVersion: majorVersion) != nil else {
            let known = WALPageMagic.byMajorVersion.map { String($0.version) }.joined(separator: ", ")
            throw .invalidField("postgresql_major_version", expected: "one of \(known)")
        }
        guard case .integer(let segmentBytes) = members["wal_segment_size"], let segmentSize = WALSegmentSize(bytes: segmentBytes) else {
            throw .invalidField("wal_segment_size", expected: "a power of two from 1 MiB to 1 GiB, in bytes")
        }
        guard case .string(let created) = members["created"], Self.isTimestamp(created) else {
            throw .invalidField("created", expected: "a UTC time YYYY-MM-DDTHH:MM:SSZ")
        }
        self.init(systemIdentifier: systemIdentifier, postgresMajorVersion: majorVersion, walSegmentSize: segmentSize,
                  created: created, encryptionKeyIDs: keyIDs)
    }

    /// Decimal digits without a leading zero, fitting 64 bits.
    private static func decimal(_ text: String) -> UInt64? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count <= 20, digits[0] != UInt8(ascii: "0"),
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(text)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` with digits where digits belong.
    static func isTimestamp(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, StorageLayout.isCalendarDate(Substring(text.prefix(10))) else { return false }
        let pattern = Array("T00:00:00Z".utf8)
        for (offset, expected) in pattern.enumerated() {
            let byte = bytes[10 + offset]
            if expected == UInt8(ascii: "0") {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            } else if byte != expected {
                return false
            }
        }
        return true
    }
}

/// Why the bytes of `wal-archive.json` are not an archive identity this version can use.
public enum ArchiveIdentityFormatError: Error, Sendable, Equatable {
    case notJSON(JSONError)
    case unsupportedFormat(Int64)
    case unknownField(String)
    case invalidField(String, expected: String)

    public var message: String {
        switch self {
        case .notJSON(let error):
            return "it is not valid JSON (\(error.message))"
        case .unsupportedFormat(let format):
            return "its format \(format) is newer than this wal-archive understands (\(ArchiveIdentity.encryptedFormat)): upgrade wal-archive"
        case .unknownField(let name):
            return "it has a field this wal-archive does not know, \(JSONValue.quoted(String(name.prefix(64)))): "
                + "upgrade wal-archive"
        case .invalidField(let name, let expected):
            return "\(name) must be \(expected)"
        }
    }
}
