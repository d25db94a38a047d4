/// What wal-archive reads from a data directory's `global/pg_control` (ControlFileData in
/// PostgreSQL's src/include/catalog/pg_control.h), in the machine's byte order:
///
///     offset 0  u64 system_identifier     offset 8  u32 pg_control_version
///     ...
///     double floatFormat (the constant 1234567.0, 8-aligned), then directly after it
///     u32 blcksz, u32 relseg_size, u32 xlog_blcksz, u32 xlog_seg_size
///     ...
///     u32 crc: CRC-32C of every byte before it, the struct's last field
///
/// The first two fields never move ("keep these fields at the same offset", pg_control.h).
/// What lies between them and `floatFormat` changes with each pg_control_version (the
/// checkpoint copy, recovery and parameter fields), so the reader does not hard-code it: it
/// finds `floatFormat` by its constant value (PostgreSQL itself stores it there to detect an
/// incompatible float format) and reads the fields that have followed it in the same order
/// since PostgreSQL 8. The CRC then proves the reading: it is searched for after those
/// fields, and a file whose checksum matches nowhere is refused (damaged, torn by a
/// concurrent write, or not a pg_control file). Checked against `pg_controldata` of real
/// clusters in the end-to-end tests.
public struct ControlFile: Sendable, Equatable {
    /// Relative to the data directory.
    public static let path = "global/pg_control"
    /// PG_CONTROL_FILE_SIZE: PostgreSQL writes the struct padded with zeros to 8 KiB.
    public static let fileSize = 8192
    /// PostgreSQL 13 (1300) is the oldest format this reader is meant for; a byte-swapped or
    /// foreign file shows a version far outside this range.
    static let plausibleVersions: ClosedRange<UInt32> = 1300...9999
    /// The layout of ControlFileData fits well within this many bytes ("try to keep this under
    /// 512 bytes", pg_control.h); the CRC is looked for below it.
    static let structLimit = 1024
    /// 1234567.0 as an IEEE 754 double, little-endian.
    static let floatFormatBytes: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x87, 0xD6, 0x32, 0x41]

    public var systemIdentifier: UInt64
    public var controlVersion: UInt32
    public var walBlockSize: UInt32
    public var walSegmentSize: WALSegmentSize

    public init(bytes: [UInt8]) throws(ControlFileError) {
        guard bytes.count >= 16 else { throw .truncated(size: bytes.count) }
        systemIdentifier = Self.field(bytes, 0, as: UInt64.self)
        controlVersion = Self.field(bytes, 8, as: UInt32.self)
        guard Self.plausibleVersions.contains(controlVersion) else { throw .unknownFormat(version: controlVersion) }
        let searched = min(bytes.count, Self.structLimit)
        var anchor: Int?
        for offset in stride(from: 16, through: searched - 24, by: 8)
            where bytes[offset..<offset + 8].elementsEqual(Self.floatFormatBytes) {
            anchor = offset
            break
        }
        guard let anchor else { throw .unknownFormat(version: controlVersion) }
        walBlockSize = Self.field(bytes, anchor + 16, as: UInt32.self)
        let segmentBytes = Self.field(bytes, anchor + 20, as: UInt32.self)
        guard walBlockSize >= 1024, walBlockSize <= 65536, walBlockSize & (walBlockSize - 1) == 0,
              let segmentSize = WALSegmentSize(bytes: segmentBytes) else {
            throw .implausibleValues(walBlockSize: walBlockSize, walSegmentSize: segmentBytes)
        }
        walSegmentSize = segmentSize
        guard Self.checksumEnd(bytes, after: anchor + 24, limit: searched) != nil else { throw .checksumMismatch }
    }

    /// Where the CRC-32C of all bytes before it is stored (4-aligned, after `start`), or nil.
    static func checksumEnd(_ bytes: [UInt8], after start: Int, limit: Int) -> Int? {
        var crc = CRC32C()
        crc.update(bytes[0..<start])
        var offset = start
        while offset + 4 <= limit {
            if crc.value == field(bytes, offset, as: UInt32.self) { return offset }
            crc.update(bytes[offset..<offset + 4])
            offset += 4
        }
        return nil
    }

    static func field<Value: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as type: Value.Type) -> Value {
        var value: Value = 0
        for index in (0..<MemoryLayout<Value>.size).reversed() {
            value = value << 8 | Value(bytes[offset + index])
        }
        return value
    }
}

public enum ControlFileError: Error, Sendable, Equatable {
    case truncated(size: Int)
    case unknownFormat(version: UInt32)
    case implausibleValues(walBlockSize: UInt32, walSegmentSize: UInt32)
    case checksumMismatch

    public var message: String {
        switch self {
        case .truncated(let size):
            return "it is \(size) bytes long, too short for pg_control"
        case .unknownFormat(let version):
            return "its format (pg_control_version \(version)) is not one this wal-archive can read"
        case .implausibleValues(let blockSize, let segmentSize):
            return "it declares WAL block size \(blockSize) and WAL segment size \(segmentSize), which PostgreSQL never uses"
        case .checksumMismatch:
            return "its CRC does not match (damaged, or being written at this moment: try again)"
        }
    }
}
