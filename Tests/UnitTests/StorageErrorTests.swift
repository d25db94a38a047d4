import XCTest
@testable import WALArchive

final class StorageErrorTests: XCTestCase {
    func testARefusalNamesItsRequestIDOnlyWhenTheStoreGaveOne() {
        XCTAssertEqual(StorageError.rejected(status: 400, code: "InvalidArgument", message: "bad", requestID: "R9").message,
                       "storage refused the request: HTTP 400 InvalidArgument: bad (request id R9)")
        XCTAssertEqual(StorageError.rejected(status: 400, code: "InvalidArgument", message: "bad", requestID: "").message,
                       "storage refused the request: HTTP 400 InvalidArgument: bad")
        XCTAssertEqual(StorageError.rejected(status: 0, code: "InvalidEndpoint", message: "endpoint x is not http(s)",
                                             requestID: "").message,
                       "storage refused the request: InvalidEndpoint: endpoint x is not http(s)")
    }
}
