import XCTest
import TestSupport
@testable import WALArchive

/// The pg_control reader on synthetic files laid out as PostgreSQL 15 writes them (the
/// end-to-end tests compare it with pg_controldata on real clusters).
final class ControlFileTests: XCTestCase {
    func testCRC32CKnownAnswers() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    /// ControlFileData of pg_control_version 1300 (PostgreSQL 13 to 16): floatFormat at 208,
    /// xlog_seg_size at 228, the CRC at 288, padded to 8 KiB.
    static func controlFile(systemIdentifier: UInt64 = 7_313_000_000_000_000_042, segmentSize: UInt32 = 16 << 20,
                            version: UInt32 = 1300, blockSize: UInt32 = 8192) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: ControlFile.fileSize)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { bytes[offset + index] = byte } }
        }
        put(systemIdentifier, at: 0)
        put(version, at: 8)
        put(UInt32(202_209_061), at: 12)
        put((1_234_567.0 as Double).bitPattern, at: 208)
        put(UInt32(8192), at: 216)
        put(UInt32(131_072), at: 220)
        put(blockSize, at: 224)
        put(segmentSize, at: 228)
        put(CRC32C.checksum(bytes[0..<288]), at: 288)
        return bytes
    }

    func testReadsSystemIdentifierAndSegmentSizeAndChecksTheCRC() throws {
        for size: UInt32 in [1 << 20, 16 << 20, 1 << 30] {
            let control = try ControlFile(bytes: Self.controlFile(segmentSize: size))
            XCTAssertEqual(control.systemIdentifier, 7_313_000_000_000_000_042)
            XCTAssertEqual(control.walSegmentSize.bytes, size)
            XCTAssertEqual(control.walBlockSize, 8192)
            XCTAssertEqual(control.controlVersion, 1300)
        }
        XCTAssertEqual(try ControlFile(bytes: Array(Self.controlFile().prefix(292))).systemIdentifier, 7_313_000_000_000_000_042)
    }

    func testDamagedTornOrForeignFilesAreRefused() {
        var flipped = Self.controlFile()
        flipped[100] ^= 0x01
        XCTAssertThrowsError(try ControlFile(bytes: flipped)) { XCTAssertEqual($0 as? ControlFileError, .checksumMismatch) }
        XCTAssertThrowsError(try ControlFile(bytes: Array(Self.controlFile().prefix(12)))) {
            XCTAssertEqual($0 as? ControlFileError, .truncated(size: 12))
        }
        XCTAssertThrowsError(try ControlFile(bytes: Array(Self.controlFile().prefix(288))), "the CRC is cut off")
        XCTAssertThrowsError(try ControlFile(bytes: Self.controlFile(version: UInt32(1300).byteSwapped))) {
            XCTAssertEqual($0 as? ControlFileError, .unknownFormat(version: UInt32(1300).byteSwapped))
        }
        XCTAssertThrowsError(try ControlFile(bytes: Self.controlFile(segmentSize: 3 << 20))) {
            XCTAssertEqual($0 as? ControlFileError, .implausibleValues(walBlockSize: 8192, walSegmentSize: 3 << 20))
        }
        XCTAssertThrowsError(try ControlFile(bytes: Self.controlFile(blockSize: 1000)))
        var noAnchor = Self.controlFile()
        noAnchor[212] = 0
        XCTAssertThrowsError(try ControlFile(bytes: noAnchor)) { XCTAssertEqual($0 as? ControlFileError, .unknownFormat(version: 1300)) }
        XCTAssertThrowsError(try ControlFile(bytes: [UInt8](repeating: 0, count: ControlFile.fileSize)))
    }

    /// Every byte the CRC covers, and the CRC itself, damaged in turn (one bit, all bits, and a
    /// random pattern): each damaged file is refused, and no cut of it anywhere up to 400 bytes
    /// crashes the reader. (fuzz/ControlFile throws arbitrary input at it for longer.)
    func testADamagedByteAnywhereIsRefusedAndNoCutCrashes() {
        var generator = SeededGenerator(seed: 1300)
        let valid = Self.controlFile()
        for position in 0..<292 {
            let random = UInt8(truncatingIfNeeded: generator.next() % 255 + 1)
            for damage in [UInt8(1) << (position % 8), 0xFF, random] {
                var bytes = valid
                bytes[position] ^= damage
                XCTAssertThrowsError(try ControlFile(bytes: bytes), "byte \(position) ^ \(damage) accepted")
                _ = try? ControlFile(bytes: Array(bytes.prefix(Int(generator.next() % 400))))
            }
        }
    }

    func testADataDirectoryGivesItsVersionAndControlFile() throws {
        let directory = try makeTemporaryDirectory(self, "pgdata")
        XCTAssertThrowsError(try DataDirectory(path: directory).majorVersion())
        XCTAssertNil(DataDirectory(path: directory).systemIdentifier())
        try FileManager.default.createDirectory(atPath: directory + "/global", withIntermediateDirectories: true)
        try Data(Self.controlFile(segmentSize: 1 << 20)).write(to: URL(fileURLWithPath: directory + "/global/pg_control"))
        for (text, expected) in [("15\n", 15), ("18", 18)] {
            try text.write(toFile: directory + "/PG_VERSION", atomically: true, encoding: .utf8)
            XCTAssertEqual(try DataDirectory(path: directory).majorVersion(), expected)
        }
        for text in ["12\n", "15.2\n", "", "x\n", "15\n\n"] {
            try text.write(toFile: directory + "/PG_VERSION", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try DataDirectory(path: directory).majorVersion(), text.debugDescription)
        }
        XCTAssertEqual(try DataDirectory(path: directory).controlFile().walSegmentSize.bytes, 1 << 20)
        XCTAssertEqual(DataDirectory(path: directory).systemIdentifier(), 7_313_000_000_000_000_042)
    }
}
