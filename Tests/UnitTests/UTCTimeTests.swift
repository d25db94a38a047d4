import TestSupport
import XCTest
@testable import WALArchive

final class UTCTimeTests: XCTestCase {
    func testRendersTheSigV4TestSuiteMoment() {
        let moment = UTCTime(secondsSinceEpoch: 1_440_938_160)
        XCTAssertEqual(moment.basicISO8601, "20150830T123600Z")
        XCTAssertEqual(moment.dateStamp, "20150830")
        XCTAssertEqual(moment.calendarDate, "2015-08-30")
    }

    func testRendersDatesBeforeTenWithLeadingZeros() {
        XCTAssertEqual(UTCTime(secondsSinceEpoch: 946_771_200).calendarDate, "2000-01-02")
    }
}
