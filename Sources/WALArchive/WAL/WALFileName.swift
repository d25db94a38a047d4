/// A file name PostgreSQL hands to archive_command (`%f`, the basename of `%p`) or
/// restore_command (`%f`), parsed strictly: exactly the shapes PostgreSQL itself generates
/// (xlog_internal.h: XLogFileName, TLHistoryFileName, BackupHistoryFileName, and the
/// `.partial` suffix), nothing else. Anything that could escape a directory or name
/// another object is refused before it reaches a key or a path.
public struct WALFileName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `TTTTTTTTLLLLLLLLSSSSSSSS`: a complete WAL segment.
        case segment
        /// `TTTTTTTTLLLLLLLLSSSSSSSS.partial`: the last, incomplete segment of a timeline.
        case partial
        /// `TTTTTTTTLLLLLLLLSSSSSSSS.OOOOOOOO.backup`: a backup history file; the offset is
        /// where the backup started within the segment.
        case backupHistory(offset: UInt32)
        /// `TTTTTTTT.history`: a timeline history file.
        case timelineHistory
    }

    public let kind: Kind
    public let timeline: UInt32
    /// The high 32 bits of the segment's position ("log" in file names); 0 for `.history`.
    public let log: UInt32
    /// The segment within `log`; 0 for `.history`.
    public let segment: UInt32
    /// The name exactly as given (and as PostgreSQL spells it).
    public let description: String

    public init(parsing name: String) throws(WALFileNameError) {
        let bytes = Array(name.utf8)
        if bytes.contains(UInt8(ascii: "/")) || bytes.contains(0) || name == "." || name == ".." {
            throw .notAFileName(name)
        }
        func hexField(_ start: Int) -> UInt32? {
            guard bytes.count >= start + 8 else { return nil }
            var value: UInt32 = 0
            for byte in bytes[start..<start + 8] {
                guard let digit = Self.upperHexDigit(byte) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        func hasText(_ text: String, at start: Int) -> Bool {
            let expected = Array(text.utf8)
            return bytes.count == start + expected.count && Array(bytes[start...]) == expected
        }

        guard let timeline = hexField(0) else { throw .notAWALFileName(name) }
        guard timeline != 0 else { throw .timelineZero(name) }
        if hasText(".history", at: 8) {
            self.init(kind: .timelineHistory, timeline: timeline, log: 0, segment: 0, description: name)
            return
        }
        guard let log = hexField(8), let segment = hexField(16) else { throw .notAWALFileName(name) }
        let kind: Kind
        if bytes.count == 24 {
            kind = .segment
        } else if hasText(".partial", at: 24) {
            kind = .partial
        } else if bytes.count == 24 + 1 + 8 + 7, bytes[24] == UInt8(ascii: "."), let offset = hexField(25),
                  hasText(".backup", at: 33) {
            kind = .backupHistory(offset: offset)
        } else {
            throw .notAWALFileName(name)
        }
        self.init(kind: kind, timeline: timeline, log: log, segment: segment, description: name)
    }

    private init(kind: Kind, timeline: UInt32, log: UInt32, segment: UInt32, description: String) {
        self.kind = kind
        self.timeline = timeline
        self.log = log
        self.segment = segment
        self.description = description
    }

    /// A complete segment's name; nil past the end of WAL (the log field would exceed 32 bits).
    public init?(timeline: UInt32, segmentNumber: UInt64, segmentSize: WALSegmentSize) {
        guard timeline != 0, segmentNumber / segmentSize.segmentsPerLog <= UInt64(UInt32.max) else { return nil }
        let log = UInt32(truncatingIfNeeded: segmentNumber / segmentSize.segmentsPerLog)
        let segment = UInt32(truncatingIfNeeded: segmentNumber % segmentSize.segmentsPerLog)
        self.init(kind: .segment, timeline: timeline, log: log, segment: segment,
                  description: Self.hex8(timeline) + Self.hex8(log) + Self.hex8(segment))
    }

    /// True for the kinds that hold WAL pages (`segment`, `partial`).
    public var holdsWAL: Bool {
        switch kind {
        case .segment, .partial: return true
        case .backupHistory, .timelineHistory: return false
        }
    }

    /// The 24-character segment part (`TTTTTTTTLLLLLLLLSSSSSSSS`); for `.history`, the 8-character timeline.
    public var segmentPart: String {
        switch kind {
        case .timelineHistory: return Self.hex8(timeline)
        default: return Self.hex8(timeline) + Self.hex8(log) + Self.hex8(segment)
        }
    }

    /// The segment's position counted from the start of WAL, or nil when the name's segment
    /// field cannot occur with this segment size (e.g. `...00000100` with 16 MiB segments).
    public func segmentNumber(segmentSize: WALSegmentSize) -> UInt64? {
        guard UInt64(segment) < segmentSize.segmentsPerLog else { return nil }
        return UInt64(log) * segmentSize.segmentsPerLog + UInt64(segment)
    }

    /// The LSN of the segment's first byte (what its first page header must carry).
    public func startLSN(segmentSize: WALSegmentSize) -> UInt64? {
        segmentNumber(segmentSize: segmentSize).map { $0 * UInt64(segmentSize.bytes) }
    }

    /// The segment that follows this one on the same timeline, or nil past the end of WAL.
    public func nextSegment(segmentSize: WALSegmentSize) -> WALFileName? {
        guard holdsWAL, let number = segmentNumber(segmentSize: segmentSize) else { return nil }
        return WALFileName(timeline: timeline, segmentNumber: number + 1, segmentSize: segmentSize)
    }

    /// PostgreSQL's order (the order of the names as strings): by timeline, then position;
    /// a timeline's history file before its segments, a segment before its backup history
    /// files, and those before its `.partial`.
    public static func < (lhs: WALFileName, rhs: WALFileName) -> Bool {
        (lhs.timeline, lhs.log, lhs.segment, lhs.kindRank) < (rhs.timeline, rhs.log, rhs.segment, rhs.kindRank)
    }

    private var kindRank: UInt64 {
        switch kind {
        case .timelineHistory: return 0
        case .segment: return 1
        case .backupHistory(let offset): return 2 + UInt64(offset)
        case .partial: return 3 + UInt64(UInt32.max)
        }
    }

    private static func upperHexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func hex8(_ value: UInt32) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        let characters = (0..<8).map { digits[Int((value >> (28 - 4 * UInt32($0))) & 0xF)] }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// A `wal_segment_size` PostgreSQL accepts: a power of two from 1 MiB to 1 GiB
/// (xlog_internal.h: IsValidWalSegSize).
public struct WALSegmentSize: Sendable, Hashable, CustomStringConvertible {
    public static let minimumBytes: UInt32 = 1 << 20
    public static let maximumBytes: UInt32 = 1 << 30
    public static let postgresDefault = WALSegmentSize(validBytes: 16 << 20)

    public let bytes: UInt32

    public init?(bytes: some BinaryInteger) {
        guard bytes >= Self.minimumBytes, bytes <= Self.maximumBytes, bytes & (bytes - 1) == 0 else { return nil }
        self.bytes = UInt32(bytes)
    }

    private init(validBytes: UInt32) {
        bytes = validBytes
    }

    /// Segments per "log" (the middle field of a segment name).
    public var segmentsPerLog: UInt64 { (1 << 32) / UInt64(bytes) }

    public var description: String {
        bytes >= 1 << 30 ? "\(bytes >> 30) GiB" : "\(bytes >> 20) MiB"
    }
}

public enum WALFileNameError: Error, Sendable, Equatable {
    /// Contains a path separator, NUL, or is `.`/`..`.
    case notAFileName(String)
    case notAWALFileName(String)
    /// PostgreSQL numbers timelines from 1.
    case timelineZero(String)

    public var message: String {
        switch self {
        case .notAFileName(let name):
            return "\(Self.quoted(name)) is not a plain file name (it contains a path separator or is . or ..)"
        case .notAWALFileName(let name):
            return "\(Self.quoted(name)) is not a WAL file name (expected 24 upper-case hex digits, "
                + "optionally followed by .partial or .XXXXXXXX.backup, or XXXXXXXX.history)"
        case .timelineZero(let name):
            return "\(Self.quoted(name)) names timeline 0, which PostgreSQL never uses"
        }
    }

    /// The name in quotes with control and non-ASCII bytes escaped, so a hostile name
    /// cannot forge a log line.
    static func quoted(_ name: String) -> String {
        var text = "\""
        for byte in name.utf8.prefix(200) {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let digits = Array("0123456789abcdef")
                text += "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
            }
        }
        return text + (name.utf8.count > 200 ? "...\"" : "\"")
    }
}
