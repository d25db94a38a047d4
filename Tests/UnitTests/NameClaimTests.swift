import XCTest
@testable import WALArchive

final class NameClaimTests: XCTestCase {
    private let fileName = "000000010000000A000000FE"
    private let sha = String(repeating: "ab", count: 32)

    private func object(_ metadata: [String: String]) -> ObjectInfo {
        ObjectInfo(key: "p/names/" + fileName, size: 0, metadata: metadata)
    }

    func testAClaimReadsBackExactly() throws {
        let file = fileName
        let keys: [(String, CompressionAlgorithm)] = [("2026-11-28/" + file + ".zst", .zstd), ("2026-11-28/" + file, .none),
                                                      (file + ".gz", .gzip)]
        for (relativeKey, compression) in keys {
            let claim = NameClaim(name: fileName, relativeKey: relativeKey, sha256Hex: sha, size: 16 << 20, compression: compression)
            let read = try NameClaim(object: object(claim.metadata), name: fileName)
            XCTAssertEqual(read, claim)
            XCTAssertEqual(read.dataKey(StorageLayout(prefix: "p")), "p/" + relativeKey)
            XCTAssertEqual(read.date, relativeKey.contains("/") ? "2026-11-28" : nil)
        }
    }

    /// Whatever does not name exactly this file's key with its own suffix, or lacks a field, is
    /// not a claim: a damaged one can never point a fetch elsewhere.
    func testAnythingElseIsRefused() {
        let valid = NameClaim(name: fileName, relativeKey: "2026-11-28/\(fileName).zst", sha256Hex: sha, size: 1, compression: .zstd).metadata
        var cases: [[String: String]] = []
        for field in valid.keys {
            var missing = valid
            missing[field] = nil
            cases.append(missing)
        }
        let file = fileName
        let badKeys: [String] = ["../" + file + ".zst", "2026-11-28/" + file + ".gz", "2026-13-28x/" + file + ".zst",
                                 "2026-11-28/other/" + file + ".zst", "2026-11-28/" + file + ".zst/x",
                                 "2026-11-28/000000010000000A000000FF.zst", "", "/" + file + ".zst", "timelines/" + file + ".zst"]
        for key in badKeys {
            var wrong = valid
            wrong[NameClaim.keyName] = key
            cases.append(wrong)
        }
        for (field, value) in [(PayloadMetadata.sha256Name, "xyz"), (PayloadMetadata.sizeName, "-1"),
                               (PayloadMetadata.compressionName, "lz4"), (NameClaim.markerName, "2")] {
            var wrong = valid
            wrong[field] = value
            cases.append(wrong)
        }
        for metadata in cases {
            XCTAssertThrowsError(try NameClaim(object: object(metadata), name: fileName), "\(metadata)")
        }
    }
}
