/// How an archived object's body is encoded. The raw value is what `wal-compression`
/// metadata records.
public enum CompressionAlgorithm: String, Sendable, CaseIterable {
    case none
    case gzip
    case zstd

    /// The default for new objects, chosen by measurement on real PostgreSQL 15 WAL
    /// (docs/compression.md): zstd level 1 compresses WAL about 5x faster than gzip level 1
    /// and to a smaller size.
    public static let `default`: CompressionAlgorithm = .zstd

    /// Appended to the object key, so a listing shows how each object is stored.
    public var keySuffix: String {
        switch self {
        case .none: return ""
        case .gzip: return ".gz"
        case .zstd: return ".zst"
        }
    }

    /// Every suffix an archived object may carry, `preferred` (the configured one) first: the
    /// order in which a restore looks for a segment.
    public static func keySuffixes(preferring preferred: String) -> [String] {
        [preferred] + allCases.map(\.keySuffix).filter { $0 != preferred }
    }

    /// The algorithm a key's suffix names (`none` for a key without one).
    public init(keySuffixOf key: String) {
        if key.hasSuffix(".zst") {
            self = .zstd
        } else if key.hasSuffix(".gz") {
            self = .gzip
        } else {
            self = .none
        }
    }

    /// The levels offered (zstd's "ultra" levels above 19 need large decompression windows
    /// and gain nothing on WAL).
    public var levels: ClosedRange<Int32> {
        switch self {
        case .none: return 0...0
        case .gzip: return 1...9
        case .zstd: return 1...19
        }
    }

    public var defaultLevel: Int32 {
        switch self {
        case .none: return 0
        case .gzip: return 1
        case .zstd: return 1
        }
    }
}
