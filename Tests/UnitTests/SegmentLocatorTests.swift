import Foundation
import XCTest
import TestSupport
@testable import WALArchive

final class SegmentLocatorTests: XCTestCase {
    private func scenarios() throws -> SegmentLocatorScenarios {
        try SegmentLocatorScenarios(test: self, destination: .directory(root: try makeTemporaryDirectory(self)))
    }

    func testColdSearchFindsEverySegmentWithinTheBound() throws {
        try scenarios().coldSearchFindsEverySegmentWithinTheBound(days: 150)
    }

    func testSequentialRecoveryCostsOneRequestPerSegment() throws {
        try scenarios().sequentialRecoveryCostsOneRequestPerSegment(days: 120)
    }

    func testNotFoundIsDefiniteAndNeverFalse() throws {
        try scenarios().notFoundIsDefiniteAndNeverFalse(days: 150)
    }

    func testOverlappingTimelinesAreFound() throws {
        try scenarios().overlappingTimelinesAreFound(days: 40)
    }

    func testLegacyFlatLayoutIsSearchedWhenEnabled() throws {
        try scenarios().legacyFlatLayoutIsSearchedWhenEnabled()
    }

    func testDamagedHintsAreIgnored() throws {
        try scenarios().damagedHintsAreIgnored()
    }

    func testASegmentDatedBeforeItsPredecessorIsStillFound() throws {
        try scenarios().aSegmentDatedBeforeItsPredecessorIsStillFound()
    }

    func testASegmentIsFoundWhateverSharesItsKeyPrefix() throws {
        try scenarios().aSegmentIsFoundWhateverSharesItsKeyPrefix()
    }
}
