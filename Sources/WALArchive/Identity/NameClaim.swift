/// One file name, one content: `<prefix>/names/<file name>`, an empty object whose metadata
/// says which content the name holds (`wal-sha256`, `wal-size`) and under which key
/// (`wal-key`, relative to the prefix, with its `wal-compression`).
///
/// A segment's key depends on its date and on the compression setting, so two pushes of one
/// name with different content could each find their own key free. The claim does not depend
/// on either: `wal-push` writes it with a conditional PUT *before* the data, so of two writers
/// with different content only the first gets the name, and the second is refused before it
/// stores anything. It also gives a cold `wal-fetch` the key in one HEAD instead of a search.
/// Timeline history files need none: their key (`timelines/<name>`) is already one per name.
public struct NameClaim: Sendable, Equatable {
    public static let folder = "names"
    static let markerName = "wal-claim"
    static let keyName = "wal-key"

    public var name: String
    /// The data object's key relative to the prefix: `<date>/<name><suffix>`, or in the
    /// legacy flat layout `<name><suffix>`.
    public var relativeKey: String
    public var sha256Hex: String
    public var size: Int64
    public var compression: CompressionAlgorithm

    public init(name: String, relativeKey: String, sha256Hex: String, size: Int64, compression: CompressionAlgorithm) {
        self.name = name
        self.relativeKey = relativeKey
        self.sha256Hex = sha256Hex
        self.size = size
        self.compression = compression
    }

    public static func key(name: String, layout: StorageLayout) -> String {
        layout.root + folder + "/" + name
    }

    public func dataKey(_ layout: StorageLayout) -> String {
        layout.root + relativeKey
    }

    /// The data key's date partition, or nil for the flat layout.
    public var date: String? {
        let parts = relativeKey.split(separator: "/")
        return parts.count == 2 ? String(parts[0]) : nil
    }

    public var suffix: String { compression.keySuffix }

    public var metadata: [String: String] {
        PayloadMetadata(algorithm: compression, originalSHA256Hex: sha256Hex, originalSize: size).dictionary
            .merging([Self.markerName: "1", Self.keyName: relativeKey]) { _, new in new }
    }

    /// Reads a claim object's metadata strictly: every field present and well-formed, and the
    /// key exactly the name under a date partition or at the prefix, with the suffix of its
    /// compression; anything else is not a claim this version wrote.
    public init(object: ObjectInfo, name: String) throws(NameClaimError) {
        let metadata = object.metadata
        guard metadata[Self.markerName] == "1", let relativeKey = metadata[Self.keyName] else {
            throw .notAClaim(key: object.key)
        }
        let payload: PayloadMetadata
        do {
            payload = try PayloadMetadata(object: object)
        } catch {
            throw .invalid(key: object.key, detail: error.message)
        }
        guard metadata[PayloadMetadata.compressionName] != nil, let sha256Hex = payload.originalSHA256Hex,
              let size = payload.originalSize else {
            throw .invalid(key: object.key, detail: "wal-compression, wal-sha256 and wal-size are required")
        }
        let fileName = relativeKey.split(separator: "/", omittingEmptySubsequences: false)
        let expected = name + payload.algorithm.keySuffix
        let valid = fileName.count == 1 ? fileName[0] == expected
            : fileName.count == 2 && StorageLayout.isCalendarDate(fileName[0]) && fileName[1] == expected
        guard valid else { throw .invalid(key: object.key, detail: "wal-key `\(relativeKey.prefix(80))` is not a key of \(name)") }
        self.init(name: name, relativeKey: relativeKey, sha256Hex: sha256Hex, size: size, compression: payload.algorithm)
    }
}

public enum NameClaimError: Error, Sendable, Equatable {
    case notAClaim(key: String)
    case invalid(key: String, detail: String)

    public var message: String {
        switch self {
        case .notAClaim(let key): return "\(key) is not a name claim written by wal-push"
        case .invalid(let key, let detail): return "the name claim \(key) is damaged: \(detail)"
        }
    }
}
