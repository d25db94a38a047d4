import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Writes synthetic WAL files for tests: a correct long page header, then content.
enum SyntheticWAL {
    static func header(for name: WALFileName, segmentSize: WALSegmentSize, magic: UInt16 = 0xD110,
                       timeline: UInt32? = nil) -> WALLongPageHeader {
        WALLongPageHeader(magic: magic, info: WALLongPageHeader.longHeaderFlag, timeline: timeline ?? name.timeline,
                          pageAddress: name.startLSN(segmentSize: segmentSize) ?? 0, remainingLength: 0,
                          systemIdentifier: 7_311_000_000_000_000_001, segmentSize: segmentSize.bytes,
                          blockSize: 8192)
    }

    /// A sparse file of the segment's size with `header` at its start.
    static func writeSegment(_ header: WALLongPageHeader, size: Int64, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        defer { close(descriptor) }
        let bytes = header.encoded
        guard ftruncate(descriptor, off_t(size)) == 0,
              bytes.withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, min($0.count, Int(size)), 0) }) >= 0 else {
            throw POSIXError(.EIO)
        }
    }
}

final class WALValidationTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = URL(fileURLWithPath: try makeTemporaryDirectory(self, "wal-validation"))
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func assertRefused(_ file: String, as name: String,
                               _ check: (WALValidationError) -> Bool, line: UInt = #line) throws {
        let walName = try WALFileName(parsing: name)
        XCTAssertThrowsError(try WALFileValidator.validate(path: file, as: walName), line: line) { error in
            guard let error = error as? WALValidationError else { return XCTFail("untyped \(error)", line: line) }
            XCTAssertTrue(check(error), "unexpected \(error)", line: line)
            XCTAssertTrue(error.message.contains(name) || error.message.contains(file),
                          "message does not name the file: \(error.message)", line: line)
        }
    }

    // MARK: Real WAL from PostgreSQL 15 (the committed fixture)

    func testRealPostgreSQL15SegmentPasses() throws {
        let segment = try RealWALFixture.segment()
        let name = try WALFileName(parsing: segment.lastPathComponent)
        let validated = try WALFileValidator.validate(path: segment.path, as: name)
        XCTAssertEqual(validated.size, 1 << 20)
        XCTAssertEqual(validated.postgresMajorVersion, 15)
        XCTAssertEqual(validated.header?.segmentSize, 1 << 20)
        XCTAssertEqual(validated.header?.blockSize, 8192)
        XCTAssertEqual(validated.header?.timeline, 1)
    }

    func testRealSegmentRenamedToAnotherPositionIsRefused() throws {
        let segment = try RealWALFixture.segment()
        let original = try WALFileName(parsing: segment.lastPathComponent)
        let oneMiB = try XCTUnwrap(WALSegmentSize(bytes: 1 << 20))
        let otherName = try XCTUnwrap(original.nextSegment(segmentSize: oneMiB)?.nextSegment(segmentSize: oneMiB))
        let renamed = path(otherName.description)
        try FileManager.default.copyItem(atPath: segment.path, toPath: renamed)
        try assertRefused(renamed, as: otherName.description) {
            if case .pageAddressMismatch = $0 { return true } else { return false }
        }
    }

    func testRealSegmentUnderALowerTimelineNameIsRefusedAndUnderAHigherOneAccepted() throws {
        let segment = try RealWALFixture.segment()
        let name = try WALFileName(parsing: segment.lastPathComponent)
        // Timeline 2's first segment starts as a copy of timeline 1's: its header says 1.
        let onTimeline2 = path("00000002" + name.description.dropFirst(8))
        try FileManager.default.copyItem(atPath: segment.path, toPath: onTimeline2)
        XCTAssertNoThrow(try WALFileValidator.validate(path: onTimeline2,
                                                       as: WALFileName(parsing: "00000002" + name.description.dropFirst(8))))

        var header = try XCTUnwrap(Array(Data(contentsOf: segment).prefix(40)).withUnsafeBytes { WALLongPageHeader($0) })
        header.timeline = 3
        let fromTimeline3 = path("00000002" + name.description.dropFirst(8) + ".partial")
        try SyntheticWAL.writeSegment(header, size: 1 << 20, to: fromTimeline3)
        try assertRefused(fromTimeline3, as: "00000002" + name.description.dropFirst(8) + ".partial") {
            $0 == .timelineMismatch(name: "00000002" + name.description.dropFirst(8) + ".partial", found: 3)
        }
    }

    func testRealSegmentTruncatedIsRefused() throws {
        let segment = try RealWALFixture.segment()
        let copy = path(segment.lastPathComponent)
        let bytes = try Data(contentsOf: segment)
        for length in [0, 1, 39, 40, 8192, bytes.count - 1] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: copy))
            try assertRefused(copy, as: segment.lastPathComponent) {
                if case .truncated = $0 { return true } else { return false }
            }
        }
        try (bytes + Data([0])).write(to: URL(fileURLWithPath: copy))
        try assertRefused(copy, as: segment.lastPathComponent) {
            if case .oversized = $0 { return true } else { return false }
        }
    }

    func testZeroFilledSegmentIsRefused() throws {
        let name = "000000010000000000000004"
        let file = path(name)
        try Data(count: 1 << 20).write(to: URL(fileURLWithPath: file))
        try assertRefused(file, as: name) { $0 == .zeroFilled(name: name) }
    }

    // MARK: Synthetic segments of other sizes

    func testSyntheticSegmentsOfOtherSizesPass() throws {
        for (megabytes, nameText) in [(1, "000000010000000000000FFF"), (64, "00000003000000070000003F"),
                                      (1024, "000000010000000A00000000")] {
            let size = try XCTUnwrap(WALSegmentSize(bytes: megabytes << 20))
            let name = try WALFileName(parsing: nameText)
            let file = path(nameText)
            try SyntheticWAL.writeSegment(SyntheticWAL.header(for: name, segmentSize: size), size: Int64(size.bytes),
                                          to: file)
            let validated = try WALFileValidator.validate(path: file, as: name)
            XCTAssertEqual(validated.header?.segmentSize, size.bytes)
            XCTAssertEqual(validated.header?.pageAddress, name.startLSN(segmentSize: size))
        }
    }

    func testEverySupportedMagicPassesAndOthersAreRefused() throws {
        let size = try XCTUnwrap(WALSegmentSize(bytes: 64 << 20))
        let name = try WALFileName(parsing: "000000010000000200000003")
        let file = path(name.description)
        for (version, magic) in WALPageMagic.byMajorVersion {
            try SyntheticWAL.writeSegment(SyntheticWAL.header(for: name, segmentSize: size, magic: magic),
                                          size: Int64(size.bytes), to: file)
            XCTAssertEqual(try WALFileValidator.validate(path: file, as: name).postgresMajorVersion, version)
        }
        for magic: UInt16 in [0xD101, 0xD105, 0xD120, 0x0000, 0x10D1] {
            try SyntheticWAL.writeSegment(SyntheticWAL.header(for: name, segmentSize: size, magic: magic),
                                          size: Int64(size.bytes), to: file)
            try assertRefused(file, as: name.description) { $0 == .unsupportedMagic(name: name.description, magic: magic) }
        }
    }

    func testSyntheticSegmentWithAWrongHeaderFieldIsRefused() throws {
        let size = try XCTUnwrap(WALSegmentSize(bytes: 1 << 20))
        let name = try WALFileName(parsing: "000000010000000000000010")
        let file = path(name.description)
        let good = SyntheticWAL.header(for: name, segmentSize: size)
        let n = name.description
        // One wrong field each: (what changes, the file's size, the refusal it must cause).
        let cases: [(change: (inout WALLongPageHeader) -> Void, fileSize: Int64, refusal: WALValidationError)] = [
            ({ $0.info = 0 }, 1 << 20, .invalidInfoBits(name: n, info: 0)),
            ({ $0.info = 0x0012 }, 1 << 20, .invalidInfoBits(name: n, info: 0x12)),
            ({ $0.segmentSize = 3 << 20 }, 3 << 20, .invalidSegmentSize(name: n, segmentSize: 3 << 20)),
            ({ $0.segmentSize = 2 << 20 }, 1 << 20, .truncated(name: n, size: 1 << 20, expected: 2 << 20)),
            ({ $0.blockSize = 8000 }, 1 << 20, .invalidBlockSize(name: n, blockSize: 8000)),
            ({ $0.timeline = 0 }, 1 << 20, .timelineMismatch(name: n, found: 0)),
            ({ $0.pageAddress += 1 << 20 }, 1 << 20, .pageAddressMismatch(name: n, found: 0x1100000, expected: 0x1000000)),
        ]
        for (change, fileSize, refusal) in cases {
            var header = good
            change(&header)
            try SyntheticWAL.writeSegment(header, size: fileSize, to: file)
            try assertRefused(file, as: n) { $0 == refusal }
        }
    }

    func testNameThatCannotExistWithTheHeadersSegmentSizeIsRefused() throws {
        let size = try XCTUnwrap(WALSegmentSize(bytes: 16 << 20))
        let name = try WALFileName(parsing: "000000010000000000000100")
        let file = path(name.description)
        try SyntheticWAL.writeSegment(SyntheticWAL.header(for: name, segmentSize: size), size: 16 << 20, to: file)
        try assertRefused(file, as: name.description) { $0 == .segmentOutOfRange(name: name.description, segmentSize: size) }
    }

    func testDirectoryIsRefused() throws {
        let name = "000000010000000000000010"
        try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: false)
        try assertRefused(path(name), as: name) { $0 == .notARegularFile(name: name) }
    }

    // MARK: History and backup history files

    func testTimelineHistoryFiles() throws {
        let good = "1\t0/3000060\tno recovery target specified\n\n2\t0/5000000\tat restore point \"x\"\n"
        try Data(good.utf8).write(to: URL(fileURLWithPath: path("00000003.history")))
        XCTAssertNoThrow(try WALFileValidator.validate(path: path("00000003.history"),
                                                       as: WALFileName(parsing: "00000003.history")))
        let bad: [(String, String)] = [
            ("", "truncated"), ("\0\0\0\0", "line 1"), ("1\t0/3000060\tx\n1\t0/4000000\ty\n", "line 2"),
            ("3\t0/3000060\tx\n", "below 3"), ("1 0/3000060 x\n", "line 1"), ("1\tzz\tx\n", "line 1"),
            ("# only a comment\n", "no timeline entries"),
        ]
        for (content, expected) in bad {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path("00000003.history")))
            let name = try WALFileName(parsing: "00000003.history")
            XCTAssertThrowsError(try WALFileValidator.validate(path: path("00000003.history"), as: name),
                                 content.debugDescription) { error in
                let message = (error as? WALValidationError)?.message ?? ""
                XCTAssertTrue(message.contains("00000003.history") && message.contains(expected), message)
            }
        }
    }

    func testBackupHistoryFiles() throws {
        let name = "000000010000000000000009.00000028.backup"
        let good = """
            START WAL LOCATION: 0/9000028 (file 000000010000000000000009)
            STOP WAL LOCATION: 0/9000100 (file 000000010000000000000009)
            CHECKPOINT LOCATION: 0/9000060
            BACKUP METHOD: streamed
            LABEL: t

            """
        try Data(good.utf8).write(to: URL(fileURLWithPath: path(name)))
        XCTAssertNoThrow(try WALFileValidator.validate(path: path(name), as: WALFileName(parsing: name)))
        for bad in ["", "STOP WAL LOCATION: 0/1\n",
                    good.replacingOccurrences(of: "(file 000000010000000000000009)\nSTOP", with: "(file 00000001000000000000000A)\nSTOP"),
                    String(good.prefix(70))] {
            try Data(bad.utf8).write(to: URL(fileURLWithPath: path(name)))
            try assertRefused(path(name), as: name) {
                if case .invalidBackupHistory = $0 { return true } else { return false }
            }
        }
    }

    func testMissingFileIsReportedAsUnreadable() throws {
        try assertRefused(path("000000010000000000000001"), as: "000000010000000000000001") {
            if case .unreadable = $0 { return true } else { return false }
        }
    }
}
