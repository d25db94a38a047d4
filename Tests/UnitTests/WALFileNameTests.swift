import XCTest
@testable import WALArchive

final class WALFileNameTests: XCTestCase {
    private let sixteenMiB = WALSegmentSize.postgresDefault

    func testParsesASegmentName() throws {
        let name = try WALFileName(parsing: "00000002000000A1000000FE")
        XCTAssertEqual(name.kind, .segment)
        XCTAssertEqual(name.timeline, 2)
        XCTAssertEqual(name.log, 0xA1)
        XCTAssertEqual(name.segment, 0xFE)
        XCTAssertTrue(name.holdsWAL)
        XCTAssertEqual(name.segmentNumber(segmentSize: sixteenMiB), 0xA1 * 256 + 0xFE)
        XCTAssertEqual(name.startLSN(segmentSize: sixteenMiB), 0xA1_FE00_0000)
        XCTAssertEqual(name.description, "00000002000000A1000000FE")
    }

    func testParsesPartialBackupAndHistoryNames() throws {
        let partial = try WALFileName(parsing: "000000010000000000000003.partial")
        XCTAssertEqual(partial.kind, .partial)
        XCTAssertTrue(partial.holdsWAL)
        XCTAssertEqual(partial.segmentPart, "000000010000000000000003")

        let backup = try WALFileName(parsing: "000000010000000000000009.00000028.backup")
        XCTAssertEqual(backup.kind, .backupHistory(offset: 0x28))
        XCTAssertFalse(backup.holdsWAL)
        XCTAssertEqual(backup.segmentPart, "000000010000000000000009")

        let history = try WALFileName(parsing: "0000000A.history")
        XCTAssertEqual(history.kind, .timelineHistory)
        XCTAssertEqual(history.timeline, 10)
        XCTAssertNil(history.nextSegment(segmentSize: sixteenMiB))
    }

    func testRejectsEverythingElseNamingTheValue() {
        let rejected = [
            "", "0", "00000001000000000000000", "0000000100000000000000001", "00000001000000000000000g",
            "00000001000000000000000a", "00000001000000000000000A.partia", "00000001000000000000000A.partial2",
            "00000001000000000000000A.gz", "00000001000000000000000A.0000002.backup",
            "00000001000000000000000A.00000028.backupx", "0000000a.history", "00000001.History", "1.history",
            "../000000010000000000000001", "pg_wal/000000010000000000000001", "/etc/passwd", "..", ".",
            " 000000010000000000000001", "000000010000000000000001\n", "00000001000000000000000A.00000028.BACKUP",
        ]
        for candidate in rejected {
            XCTAssertThrowsError(try WALFileName(parsing: candidate), "accepted \(candidate.debugDescription)") { error in
                guard let error = error as? WALFileNameError else { return XCTFail("untyped error \(error)") }
                let visible = WALFileNameError.quoted(candidate)
                XCTAssertTrue(error.message.contains(visible), "\(error.message) does not name \(visible)")
            }
        }
    }

    func testPathSeparatorsAndDotsAreReportedAsNotAFileName() {
        for candidate in ["../000000010000000000000001", "a/b", "..", "."] {
            XCTAssertThrowsError(try WALFileName(parsing: candidate)) { error in
                XCTAssertEqual(error as? WALFileNameError, .notAFileName(candidate))
            }
        }
    }

    func testTimelineZeroIsRefused() {
        XCTAssertThrowsError(try WALFileName(parsing: "000000000000000000000001")) { error in
            XCTAssertEqual(error as? WALFileNameError, .timelineZero("000000000000000000000001"))
        }
        XCTAssertThrowsError(try WALFileName(parsing: "00000000.history"))
    }

    func testControlCharactersAreEscapedInMessages() {
        XCTAssertThrowsError(try WALFileName(parsing: "bad\nname\u{1b}")) { error in
            let message = (error as? WALFileNameError)?.message ?? ""
            XCTAssertTrue(message.contains("\"bad\\x0aname\\x1b\""), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    func testNextSegmentRollsOverTheLogFieldPerSegmentSize() throws {
        let last16 = try WALFileName(parsing: "0000000100000000000000FF")
        XCTAssertEqual(last16.nextSegment(segmentSize: sixteenMiB)?.description, "000000010000000100000000")
        let oneMiB = try XCTUnwrap(WALSegmentSize(bytes: 1 << 20))
        let last1 = try WALFileName(parsing: "000000030000000500000FFF")
        XCTAssertEqual(last1.nextSegment(segmentSize: oneMiB)?.description, "000000030000000600000000")
        let oneGiB = try XCTUnwrap(WALSegmentSize(bytes: 1 << 30))
        let last1G = try WALFileName(parsing: "000000010000000000000003")
        XCTAssertEqual(last1G.nextSegment(segmentSize: oneGiB)?.description, "000000010000000100000000")
        XCTAssertEqual(try WALFileName(parsing: "000000010000000000000003.partial").nextSegment(segmentSize: oneGiB)?
            .description, "000000010000000100000000")
        XCTAssertNil(try WALFileName(parsing: "00000001FFFFFFFF000000FF").nextSegment(segmentSize: sixteenMiB))
    }

    func testSegmentFieldBeyondTheSegmentSizeHasNoPosition() throws {
        let name = try WALFileName(parsing: "000000010000000000000100")
        XCTAssertNil(name.segmentNumber(segmentSize: sixteenMiB))
        XCTAssertNil(name.startLSN(segmentSize: sixteenMiB))
        XCTAssertEqual(name.startLSN(segmentSize: try XCTUnwrap(WALSegmentSize(bytes: 1 << 20))), 0x1000_0000)
    }

    func testSegmentNumberRoundTripsThroughTheName() throws {
        for bytes in [1 << 20, 16 << 20, 64 << 20, 1 << 30] {
            let size = try XCTUnwrap(WALSegmentSize(bytes: bytes))
            for number: UInt64 in [1, 2, 255, 256, 4095, 4096, 123_456, 1 << 33, (1 << 32) * size.segmentsPerLog - 1] {
                let name = try XCTUnwrap(WALFileName(timeline: 7, segmentNumber: number, segmentSize: size))
                let parsed = try WALFileName(parsing: name.description)
                XCTAssertEqual(parsed, name)
                XCTAssertEqual(parsed.segmentNumber(segmentSize: size), number)
                XCTAssertEqual(parsed.startLSN(segmentSize: size), number * UInt64(bytes))
            }
            XCTAssertNil(WALFileName(timeline: 7, segmentNumber: (1 << 32) * size.segmentsPerLog, segmentSize: size))
        }
    }

    func testOrderMatchesPostgreSQLsNameOrder() throws {
        let names = [
            "000000020000000000000001", "00000001.history", "000000010000000000000002.partial",
            "000000010000000000000002.00000028.backup", "000000010000000000000002", "00000002.history",
            "000000010000000100000000", "000000010000000000000002.00000100.backup", "0000000100000000000000FF",
        ]
        let parsed = try names.map { try WALFileName(parsing: $0) }
        XCTAssertEqual(parsed.sorted().map(\.description), names.sorted())
    }

    func testSegmentSizeAcceptsOnlyPowersOfTwoFromOneMiBToOneGiB() {
        for valid in [1 << 20, 2 << 20, 16 << 20, 512 << 20, 1 << 30] {
            XCTAssertNotNil(WALSegmentSize(bytes: valid), "\(valid)")
        }
        for invalid in [0, 1, 1 << 19, (1 << 20) + 1, 3 << 20, 2 << 30, 48 << 20] {
            XCTAssertNil(WALSegmentSize(bytes: invalid), "\(invalid)")
        }
    }
}
