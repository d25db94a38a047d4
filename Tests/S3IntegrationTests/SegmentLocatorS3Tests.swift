import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// The same scenarios against the signature-checking local S3 server (fewer dates: every
/// object is an HTTP PUT).
final class SegmentLocatorS3Tests: XCTestCase {
    private func scenarios() throws -> SegmentLocatorScenarios {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix("locator").dropLast())
        return try SegmentLocatorScenarios(test: self, destination: .s3(server.settings()), prefix: prefix)
    }

    func testColdSearchFindsEverySegmentWithinTheBound() throws {
        try scenarios().coldSearchFindsEverySegmentWithinTheBound(days: 100)
    }

    func testSequentialRecoveryCostsOneRequestPerSegment() throws {
        try scenarios().sequentialRecoveryCostsOneRequestPerSegment(days: 40)
    }

    func testNotFoundIsDefiniteAndNeverFalse() throws {
        try scenarios().notFoundIsDefiniteAndNeverFalse(days: 40)
    }

    func testOverlappingTimelinesAreFound() throws {
        try scenarios().overlappingTimelinesAreFound(days: 20)
    }

    func testLegacyFlatLayoutIsSearchedWhenEnabled() throws {
        try scenarios().legacyFlatLayoutIsSearchedWhenEnabled()
    }

    func testASegmentDatedBeforeItsPredecessorIsStillFound() throws {
        try scenarios().aSegmentDatedBeforeItsPredecessorIsStillFound()
    }

    func testASegmentIsFoundWhateverSharesItsKeyPrefix() throws {
        try scenarios().aSegmentIsFoundWhateverSharesItsKeyPrefix()
    }
}
