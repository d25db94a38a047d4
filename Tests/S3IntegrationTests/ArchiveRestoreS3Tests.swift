import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The same scenarios through `S3Store` against the signature-checking local S3 server.
final class ArchiveRestoreS3Tests: XCTestCase {
    private func scenarios() throws -> ArchiveRestoreScenarios {
        let server = try LocalS3Server.shared()
        return try ArchiveRestoreScenarios(test: self, destination: .s3(server.settings()),
                                           prefix: String(server.uniquePrefix("archive").dropLast()))
    }

    func testRoundTripIsByteExactForEveryCompression() throws {
        try scenarios().roundTripIsByteExact(compressions: [(.none, nil), (.gzip, nil), (.zstd, nil), (.zstd, 19)])
    }

    func testDoublePushSucceedsWithoutUploading() throws {
        try scenarios().doublePushSucceedsWithoutUploading()
    }

    func testDifferentContentIsRefusedAndTheArchiveKept() throws {
        try scenarios().differentContentIsRefusedAndTheArchiveKept()
    }

    func testFlippedByteInTheArchiveFailsTheFetch() throws {
        let scenarios = try scenarios()
        let store = scenarios.store
        try scenarios.damagedObjectFailsWithoutWritingDestination { key in
            let original = CollectingSink()
            let info = try store.get(key: key, into: original)
            var damaged = original.bytes
            damaged[damaged.count - 1000] ^= 0x01
            try putBytes(store, key: key, damaged, metadata: info.metadata)
        }
    }

    func testHistoryFilesLiveUnderTimelines() throws {
        try scenarios().historyFilesLiveUnderTimelines()
    }

    func testConditionalWriteFallsBackWhenUnsupported() throws {
        try scenarios().conditionalWriteFallsBackWhenUnsupported()
    }

    func testEveryKindOfFileIsFoundInTheLegacyFlatLayout() throws {
        try scenarios().everyKindOfFileIsFoundInTheLegacyFlatLayout()
    }

    func testADifferentFileIsRefusedWhateverItsDateAndCompression() throws {
        try scenarios().aDifferentFileIsRefusedWhateverItsDateAndCompression()
    }

    func testAClaimWithoutItsDataIsCompletedByTheNextPush() throws {
        try scenarios().aClaimWithoutItsDataIsCompletedByTheNextPush()
    }

    func testUnclaimedCopiesWithDifferentContentStopTheFetch() throws {
        try scenarios().unclaimedCopiesWithDifferentContentStopTheFetch()
    }

    func testAClaimWhoseDataDisagreesStopsEveryFetch() throws {
        try scenarios().aClaimWhoseDataDisagreesStopsEveryFetch()
    }

    func testAnotherSystemsSegmentIsNeverRestored() throws {
        try scenarios().anotherSystemsSegmentIsNeverRestored()
    }

    func testRequestCostsOfPushAndFetch() throws {
        try scenarios().requestCostsOfPushAndFetch()
    }
}
