import Foundation
import XCTest
import TestSupport
@testable import WALArchive

final class ArchiveRestoreTests: XCTestCase {
    private func scenarios() throws -> (ArchiveRestoreScenarios, String) {
        let root = try makeTemporaryDirectory(self, "archive")
        return (try ArchiveRestoreScenarios(test: self, destination: .directory(root: root)), root)
    }

    func testRoundTripIsByteExactForEveryCompression() throws {
        try scenarios().0.roundTripIsByteExact(compressions: [(.none, nil), (.gzip, nil), (.gzip, 9), (.zstd, nil), (.zstd, 19)])
    }

    func testDoublePushSucceedsWithoutUploading() throws {
        try scenarios().0.doublePushSucceedsWithoutUploading()
    }

    func testDifferentContentIsRefusedAndTheArchiveKept() throws {
        try scenarios().0.differentContentIsRefusedAndTheArchiveKept()
    }

    func testFlippedByteInTheArchiveFailsTheFetch() throws {
        let (scenarios, root) = try scenarios()
        try scenarios.damagedObjectFailsWithoutWritingDestination { key in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: root + "/" + key))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size - 1000)
            let byte = try XCTUnwrap(try handle.read(upToCount: 1))
            try handle.seek(toOffset: size - 1000)
            try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
            try handle.close()
        }
    }

    func testHistoryFilesLiveUnderTimelines() throws {
        try scenarios().0.historyFilesLiveUnderTimelines()
    }

    func testConditionalWriteFallsBackWhenUnsupported() throws {
        try scenarios().0.conditionalWriteFallsBackWhenUnsupported()
    }

    func testEveryKindOfFileIsFoundInTheLegacyFlatLayout() throws {
        try scenarios().0.everyKindOfFileIsFoundInTheLegacyFlatLayout()
    }

    func testADifferentFileIsRefusedWhateverItsDateAndCompression() throws {
        try scenarios().0.aDifferentFileIsRefusedWhateverItsDateAndCompression()
    }

    func testAClaimWithoutItsDataIsCompletedByTheNextPush() throws {
        try scenarios().0.aClaimWithoutItsDataIsCompletedByTheNextPush()
    }

    func testUnclaimedCopiesWithDifferentContentStopTheFetch() throws {
        try scenarios().0.unclaimedCopiesWithDifferentContentStopTheFetch()
    }

    func testAClaimWhoseDataDisagreesStopsEveryFetch() throws {
        try scenarios().0.aClaimWhoseDataDisagreesStopsEveryFetch()
    }

    func testAnotherSystemsSegmentIsNeverRestored() throws {
        try scenarios().0.anotherSystemsSegmentIsNeverRestored()
    }

    func testRequestCostsOfPushAndFetch() throws {
        try scenarios().0.requestCostsOfPushAndFetch()
    }

    func testBadFileNamesAreRejected() throws {
        let (scenarios, _) = try scenarios()
        for name in ["../000000010000000000000001", "pg_wal/000000010000000000000001", "garbage", "", "00000001000000000000000G",
                     "000000010000000000000001/"] {
            XCTAssertThrowsError(try scenarios.fetcher().restore(name: name, to: scenarios.destination), name) { error in
                guard let error = error as? RestoreError, case .invalidName = error else { return XCTFail("\(error)") }
                XCTAssertEqual(error.exitStatus(standbyMode: true), .fatal)
            }
        }
    }
}
