import Glibc

/// What validation learnt about a file that passed.
public struct ValidatedWALFile: Sendable, Equatable {
    public var name: WALFileName
    public var size: Int64
    /// The first page's long header, for segments and `.partial` files.
    public var header: WALLongPageHeader?

    public var postgresMajorVersion: Int? { header.flatMap { WALPageMagic.majorVersion(of: $0.magic) } }
}

/// Checks, before a file is archived (and after one is restored), that it is what its name
/// says, reading only what is needed: 40 bytes of a segment, at most 1 MiB of a history or
/// backup history file.
///
/// For segments and `.partial` files these are the checks PostgreSQL's own reader makes on
/// a segment's first page (xlogreader.c, XLogReaderValidatePageHeader): a known magic, valid
/// info bits, the long-header flag, the segment and block sizes, and the page address equal
/// to the segment's start. The file's size must equal the header's segment size.
///
/// Timeline: xlogreader.c only requires that a page's xlp_tli never goes backwards. The first
/// segment of a new timeline begins as a copy of the parent timeline's segment up to the
/// switch point (xlog.c, XLogInitNewTimeline), so its first page legitimately carries the
/// parent's (smaller) timeline. Hence the rule here: 1 <= xlp_tli <= the name's timeline.
public enum WALFileValidator {
    static let textFileLimit = 1 << 20

    public static func validate(path: String, as name: WALFileName) throws(WALValidationError) -> ValidatedWALFile {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, detail: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        return try validate(descriptor: descriptor, path: path, as: name)
    }

    /// Reads with `pread`, so the descriptor's offset is left alone.
    public static func validate(descriptor: Int32, path: String, as name: WALFileName) throws(WALValidationError)
        -> ValidatedWALFile {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .unreadable(path: path, detail: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile(name: name.description) }
        let size = Int64(info.st_size)
        switch name.kind {
        case .segment, .partial:
            var headerBytes = [UInt8](repeating: 0, count: WALLongPageHeader.byteCount)
            let count = try readPrefix(descriptor, into: &headerBytes, path: path)
            headerBytes.removeLast(headerBytes.count - count)
            let header = try validateSegment(firstBytes: headerBytes, fileSize: size, as: name)
            return ValidatedWALFile(name: name, size: size, header: header)
        case .timelineHistory:
            try validateTimelineHistory(readText(descriptor, size: size, path: path, name: name), as: name)
            return ValidatedWALFile(name: name, size: size, header: nil)
        case .backupHistory:
            try validateBackupHistory(readText(descriptor, size: size, path: path, name: name), as: name)
            return ValidatedWALFile(name: name, size: size, header: nil)
        }
    }

    /// The segment checks over the file's first bytes (at least the long header) and its size.
    public static func validateSegment(firstBytes: [UInt8], fileSize: Int64, as name: WALFileName)
        throws(WALValidationError) -> WALLongPageHeader {
        let file = name.description
        guard let header = firstBytes.withUnsafeBytes({ WALLongPageHeader($0) }), fileSize >= Int64(WALLongPageHeader.byteCount) else {
            throw .truncated(name: file, size: fileSize, expected: nil)
        }
        if firstBytes.prefix(WALLongPageHeader.byteCount).allSatisfy({ $0 == 0 }) {
            throw .zeroFilled(name: file)
        }
        guard WALPageMagic.majorVersion(of: header.magic) != nil else {
            throw .unsupportedMagic(name: file, magic: header.magic)
        }
        guard header.info & ~WALLongPageHeader.allInfoFlags == 0,
              header.info & WALLongPageHeader.longHeaderFlag != 0 else {
            throw .invalidInfoBits(name: file, info: header.info)
        }
        guard let segmentSize = WALSegmentSize(bytes: header.segmentSize) else {
            throw .invalidSegmentSize(name: file, segmentSize: header.segmentSize)
        }
        guard header.blockSize >= 1024, header.blockSize <= 65536, header.blockSize & (header.blockSize - 1) == 0 else {
            throw .invalidBlockSize(name: file, blockSize: header.blockSize)
        }
        guard fileSize == Int64(segmentSize.bytes) else {
            if fileSize < Int64(segmentSize.bytes) {
                throw .truncated(name: file, size: fileSize, expected: Int64(segmentSize.bytes))
            }
            throw .oversized(name: file, size: fileSize, expected: Int64(segmentSize.bytes))
        }
        guard let expectedAddress = name.startLSN(segmentSize: segmentSize) else {
            throw .segmentOutOfRange(name: file, segmentSize: segmentSize)
        }
        guard header.pageAddress == expectedAddress else {
            throw .pageAddressMismatch(name: file, found: header.pageAddress, expected: expectedAddress)
        }
        guard header.timeline >= 1, header.timeline <= name.timeline else {
            throw .timelineMismatch(name: file, found: header.timeline)
        }
        return header
    }

    /// `<parent tli>\t<switch LSN>\t<reason>` lines as timeline.c (writeTimeLineHistory) writes
    /// them and readTimeLineHistory reads them: blank and `#` lines skipped, timeline IDs
    /// increasing and all below the file's own timeline.
    public static func validateTimelineHistory(_ text: [UInt8], as name: WALFileName) throws(WALValidationError) {
        let file = name.description
        guard !text.isEmpty else { throw .truncated(name: file, size: 0, expected: nil) }
        var previous: UInt32 = 0
        var entries = 0
        for (index, line) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            let fields = trimmed.split(separator: UInt8(ascii: "\t"), maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, let timeline = decimal(fields[0]), parseLSN(fields[1]) != nil else {
                throw .invalidHistory(name: file, line: index + 1,
                                      reason: "expected <timeline>\\t<LSN>\\t<reason>")
            }
            guard timeline > previous, timeline < name.timeline else {
                throw .invalidHistory(name: file, line: index + 1, reason:
                    "timeline \(timeline) is out of order (must increase and stay below \(name.timeline))")
            }
            previous = timeline
            entries += 1
        }
        guard entries > 0 else { throw .invalidHistory(name: file, line: 1, reason: "no timeline entries") }
    }

    /// A backup history file (xlog.c, do_pg_backup_stop) starts with
    /// `START WAL LOCATION: X/X (file <segment>)`, naming the segment in its own name.
    public static func validateBackupHistory(_ text: [UInt8], as name: WALFileName) throws(WALValidationError) {
        let file = name.description
        let prefix = Array("START WAL LOCATION: ".utf8)
        guard text.starts(with: prefix) else {
            throw .invalidBackupHistory(name: file, reason: "it does not start with \"START WAL LOCATION:\"")
        }
        let firstLine = text.prefix { $0 != UInt8(ascii: "\n") }
        let expected = Array(("(file " + name.segmentPart + ")").utf8)
        guard firstLine.count >= expected.count, Array(firstLine.suffix(expected.count)) == expected else {
            throw .invalidBackupHistory(name: file, reason: "its START WAL LOCATION names another segment")
        }
        guard containsLine(starting: Array("STOP WAL LOCATION: ".utf8), in: text) else {
            throw .invalidBackupHistory(name: file, reason: "it has no STOP WAL LOCATION line")
        }
    }

    /// "X/X" as PostgreSQL prints an LSN.
    static func parseLSN(_ field: ArraySlice<UInt8>) -> UInt64? {
        let halves = field.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard halves.count == 2, let high = hex32(halves[0]), let low = hex32(halves[1]) else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    private static func hex32(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        return UInt32(String(decoding: digits, as: UTF8.self), radix: 16)
    }

    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return UInt32(String(decoding: digits, as: UTF8.self))
    }

    private static func containsLine(starting prefix: [UInt8], in text: [UInt8]) -> Bool {
        text.split(separator: UInt8(ascii: "\n")).contains { $0.starts(with: prefix) }
    }

    private static func readPrefix(_ descriptor: Int32, into buffer: inout [UInt8], path: String)
        throws(WALValidationError) -> Int {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 16)
        defer { scratch.deallocate() }
        let filled: Int
        do {
            filled = try FileOperations.readFully(descriptor, into: scratch, at: 0, path: path)
        } catch {
            throw .unreadable(path: path, detail: String(cString: strerror(error.code)))
        }
        buffer.replaceSubrange(0..<filled, with: scratch[0..<filled])
        return filled
    }

    private static func readText(_ descriptor: Int32, size: Int64, path: String, name: WALFileName)
        throws(WALValidationError) -> [UInt8] {
        guard size <= Int64(textFileLimit) else {
            throw .oversized(name: name.description, size: size, expected: Int64(textFileLimit))
        }
        var buffer = [UInt8](repeating: 0, count: Int(size))
        let count = try readPrefix(descriptor, into: &buffer, path: path)
        return Array(buffer[..<count])
    }
}

public enum WALValidationError: Error, Sendable, Equatable {
    case unreadable(path: String, detail: String)
    case notARegularFile(name: String)
    /// Shorter than its header says (or than a header); `expected` when known.
    case truncated(name: String, size: Int64, expected: Int64?)
    case oversized(name: String, size: Int64, expected: Int64)
    case zeroFilled(name: String)
    case unsupportedMagic(name: String, magic: UInt16)
    case invalidInfoBits(name: String, info: UInt16)
    case invalidSegmentSize(name: String, segmentSize: UInt32)
    case invalidBlockSize(name: String, blockSize: UInt32)
    /// The name's segment field cannot exist with the header's segment size.
    case segmentOutOfRange(name: String, segmentSize: WALSegmentSize)
    case pageAddressMismatch(name: String, found: UInt64, expected: UInt64)
    case timelineMismatch(name: String, found: UInt32)
    case invalidHistory(name: String, line: Int, reason: String)
    case invalidBackupHistory(name: String, reason: String)

    public var message: String {
        switch self {
        case .unreadable(let path, let detail):
            return "cannot read \(path): \(detail)"
        case .notARegularFile(let name):
            return "\(name) is not a regular file"
        case .truncated(let name, let size, let expected):
            return "\(name) is truncated: \(size) bytes" + (expected.map { " instead of \($0)" } ?? "")
        case .oversized(let name, let size, let expected):
            return "\(name) is \(size) bytes, more than the \(expected) it may have"
        case .zeroFilled(let name):
            return "\(name) starts with zeros instead of a WAL page header (a zero-filled or never-written file)"
        case .unsupportedMagic(let name, let magic):
            let known = WALPageMagic.byMajorVersion.map { "\($0.version)" }.joined(separator: ", ")
            return "\(name) has WAL page magic 0x\(Self.hex(UInt64(magic))), not that of PostgreSQL \(known)"
        case .invalidInfoBits(let name, let info):
            return "\(name) does not start with a long WAL page header (xlp_info 0x\(Self.hex(UInt64(info))))"
        case .invalidSegmentSize(let name, let segmentSize):
            return "\(name) declares segment size \(segmentSize), not a power of two from 1 MiB to 1 GiB"
        case .invalidBlockSize(let name, let blockSize):
            return "\(name) declares WAL block size \(blockSize), not a power of two from 1 KiB to 64 KiB"
        case .segmentOutOfRange(let name, let segmentSize):
            return "\(name) names a segment that cannot exist with \(segmentSize) segments"
        case .pageAddressMismatch(let name, let found, let expected):
            return "\(name) starts at LSN \(Self.lsn(found)) but its name says \(Self.lsn(expected)) "
                + "(a renamed or recycled segment)"
        case .timelineMismatch(let name, let found):
            return "\(name) holds WAL of timeline \(found), later than the timeline in its name"
        case .invalidHistory(let name, let line, let reason):
            return "\(name) is not a valid timeline history file: line \(line): \(reason)"
        case .invalidBackupHistory(let name, let reason):
            return "\(name) is not a valid backup history file: \(reason)"
        }
    }

    static func lsn(_ value: UInt64) -> String {
        hex(value >> 32) + "/" + hex(value & 0xFFFF_FFFF)
    }

    static func hex(_ value: UInt64) -> String {
        String(value, radix: 16, uppercase: true)
    }
}
