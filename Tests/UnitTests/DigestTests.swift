import TestSupport
import XCTest
@testable import WALArchive

final class DigestTests: XCTestCase {
    func testSHA256OfEmptyInputIsTheKnownConstant() {
        XCTAssertEqual(SHA256Hasher.hash([UInt8]()).hexString,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testStreamingSHA256MatchesOneShot() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        var hasher = SHA256Hasher()
        hasher.update(bytes.prefix(10))
        hasher.update(bytes.dropFirst(10))
        let digest = hasher.finalize()
        XCTAssertEqual(digest.hexString,
                       "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
    }

    func testHMACSHA256MatchesRFC4231Case2() {
        let mac = HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        XCTAssertEqual(mac.hexString, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
