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

    func testBackgroundHasherGivesTheDigestOfTheBytesInOrderWhateverTheirChunks() {
        var generator = SeededGenerator(seed: 7)
        // More than every slot holds, in pieces smaller and larger than a slot, some empty.
        let total = BackgroundHasher.slotSize * (BackgroundHasher.slotCount + 3) + 12_345
        let bytes = (0..<total).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let expected = SHA256Hasher.hash(bytes).hexString
        for pieceSizes in [[65_536], [0, 4096, 65_536], [BackgroundHasher.slotSize * 3 + 7, 100_000, 0]] {
            let hasher = BackgroundHasher()
            var offset = 0
            var index = 0
            bytes.withUnsafeBytes { all in
                while offset < all.count {
                    let count = min(pieceSizes[index % pieceSizes.count], all.count - offset)
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]))
                    offset += count
                    index += 1
                }
            }
            XCTAssertEqual(hasher.finalize()?.hexString, expected, "pieces \(pieceSizes)")
            XCTAssertNil(hasher.finalize(), "the digest is given once")
        }
    }

    func testBackgroundHasherOfNothingIsTheEmptyDigestAndAnUnfinishedOneStopsItsThread() {
        XCTAssertEqual(BackgroundHasher().finalize()?.hexString,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Dropped with bytes queued and without finalize: deinit ends and joins the thread.
        let bytes = [UInt8](repeating: 7, count: BackgroundHasher.slotSize * 2)
        for _ in 0..<20 {
            let hasher = BackgroundHasher()
            bytes.withUnsafeBytes { hasher.update($0) }
        }
    }
}
