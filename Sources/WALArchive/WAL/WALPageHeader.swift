/// The long page header at the start of every WAL segment (XLogLongPageHeaderData in
/// PostgreSQL's src/include/access/xlog_internal.h), in the machine's byte order, which on
/// the platforms we build for is little-endian:
///
///     offset  0  u16 xlp_magic        offset 16  u32 xlp_rem_len
///     offset  2  u16 xlp_info         offset 20  (padding)
///     offset  4  u32 xlp_tli          offset 24  u64 xlp_sysid
///     offset  8  u64 xlp_pageaddr     offset 32  u32 xlp_seg_size
///                                     offset 36  u32 xlp_xlog_blcksz
public struct WALLongPageHeader: Sendable, Equatable {
    /// SizeOfXLogLongPHD: MAXALIGN(sizeof(XLogLongPageHeaderData)).
    public static let byteCount = 40
    /// xlp_info flags (XLP_FIRST_IS_CONTRECORD | XLP_LONG_HEADER | XLP_BKP_REMOVABLE or,
    /// since PostgreSQL 15, XLP_FIRST_IS_OVERWRITE_CONTRECORD): XLP_ALL_FLAGS.
    public static let allInfoFlags: UInt16 = 0x0007
    public static let longHeaderFlag: UInt16 = 0x0002

    public var magic: UInt16
    public var info: UInt16
    public var timeline: UInt32
    public var pageAddress: UInt64
    public var remainingLength: UInt32
    public var systemIdentifier: UInt64
    public var segmentSize: UInt32
    public var blockSize: UInt32

    public init(magic: UInt16, info: UInt16, timeline: UInt32, pageAddress: UInt64, remainingLength: UInt32,
                systemIdentifier: UInt64, segmentSize: UInt32, blockSize: UInt32) {
        self.magic = magic
        self.info = info
        self.timeline = timeline
        self.pageAddress = pageAddress
        self.remainingLength = remainingLength
        self.systemIdentifier = systemIdentifier
        self.segmentSize = segmentSize
        self.blockSize = blockSize
    }

    /// Decodes the first `byteCount` bytes; nil when fewer are given.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.byteCount else { return nil }
        func field<Value: FixedWidthInteger>(_ offset: Int, as type: Value.Type) -> Value {
            Value(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Value.self))
        }
        self.init(magic: field(0, as: UInt16.self), info: field(2, as: UInt16.self),
                  timeline: field(4, as: UInt32.self), pageAddress: field(8, as: UInt64.self),
                  remainingLength: field(16, as: UInt32.self), systemIdentifier: field(24, as: UInt64.self),
                  segmentSize: field(32, as: UInt32.self), blockSize: field(36, as: UInt32.self))
    }

    /// The header as PostgreSQL writes it (padding zeroed).
    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { source in
                for index in 0..<source.count { bytes[offset + index] = source[index] }
            }
        }
        put(magic, at: 0)
        put(info, at: 2)
        put(timeline, at: 4)
        put(pageAddress, at: 8)
        put(remainingLength, at: 16)
        put(systemIdentifier, at: 24)
        put(segmentSize, at: 32)
        put(blockSize, at: 36)
        return bytes
    }
}

/// XLOG_PAGE_MAGIC of each supported PostgreSQL major version, as defined in
/// src/include/access/xlog_internal.h of its release branch (REL_13_STABLE .. REL_18_STABLE).
/// A new major version changes the magic; supporting it means adding it here after checking.
public enum WALPageMagic {
    public static let byMajorVersion: [(version: Int, magic: UInt16)] = [
        (13, 0xD106), (14, 0xD10D), (15, 0xD110), (16, 0xD113), (17, 0xD116), (18, 0xD118),
    ]

    public static func majorVersion(of magic: UInt16) -> Int? {
        byMajorVersion.first { $0.magic == magic }?.version
    }

    public static func magic(ofMajorVersion version: Int) -> UInt16? {
        byMajorVersion.first { $0.version == version }?.magic
    }
}
