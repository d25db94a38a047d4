import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// Upload bodies are kept in memory within a budget shared by all uploads of the process, and
/// a body that does not fit is compressed again while it is sent, byte for byte the same.
final class PreparedUploadTests: XCTestCase {
    private func source(_ bytes: [UInt8]) throws -> String {
        let path = try makeTemporaryDirectory(self, "prepared-upload") + "/source"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for offset in stride(from: 0, to: count, by: 8) {
                withUnsafeBytes(of: generator.next()) { word in
                    raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: min(8, count - offset))
                }
            }
        }
        return bytes
    }

    func testABodyThatDoesNotFitIsCompressedAgainWhileSentAndIsTheSameBytes() throws {
        // Runs of zeros and random stretches, across many read chunks, ending mid-chunk.
        let content = [UInt8](repeating: 0, count: 1_000_000) + randomBytes(1_500_001, seed: 12)
            + [UInt8](repeating: 7, count: 700_000) + randomBytes(1_200_000, seed: 13)
        let path = try source(content)
        for algorithm in [CompressionAlgorithm.zstd, .gzip] {
            let kept = try PreparedUpload(sourcePath: path, algorithm: algorithm, memory: UploadMemory(limit: 64 << 20))
            XCTAssertEqual(kept.bodySource, .memory)
            let memory = UploadMemory(limit: 2 << 20)
            let streamed = try PreparedUpload(sourcePath: path, algorithm: algorithm, memory: memory)
            XCTAssertEqual(streamed.bodySource, .recompressed)
            XCTAssertEqual(memory.usage.current, 0, "what was collected before the budget ran out is given back")
            XCTAssertLessThanOrEqual(memory.usage.peak, memory.limit)
            XCTAssertEqual(streamed.bodyLength, kept.bodyLength)
            XCTAssertEqual(streamed.bodySHA256Hex, kept.bodySHA256Hex)
            XCTAssertEqual(streamed.metadata, kept.metadata)
            let expected = try uploadBodyBytes(kept.body)
            XCTAssertEqual(try uploadBodyBytes(streamed.body), expected, "\(algorithm)")
            XCTAssertEqual(try uploadBodyBytes(streamed.body), expected, "\(algorithm): a retry reads it again from 0")
            XCTAssertEqual(try Codec.decompress(expected, algorithm), content)
            var buffer = [UInt8](repeating: 0, count: 16)
            XCTAssertThrowsError(try buffer.withUnsafeMutableBytes { try streamed.body.read(into: $0, at: 12345) },
                                 "only in order")
        }
    }

    /// An upload prepared on its own thread is handed out only when its read of the file gave
    /// the checksum its name claim was made with; after a change between the two reads it is not.
    func testAnUploadPreparedOnAThreadIsRefusedWhenTheFileChangedSinceItsChecksum() throws {
        let content = randomBytes(700_001, seed: 31)
        let path = try source(content)
        let checksum = try PreparedUpload.checksum(sourcePath: path)
        XCTAssertEqual(checksum.size, Int64(content.count))
        XCTAssertEqual(checksum.sha256Hex, SHA256Hasher.hexDigest(ofFile: path))
        let preparation = UploadPreparation(sourcePath: path, algorithm: .zstd, level: nil, encryption: nil, concurrently: true)
        XCTAssertTrue(preparation.isConcurrent)
        let upload = try preparation.upload(matching: checksum, path: path)
        XCTAssertEqual(try Codec.decompress(try uploadBodyBytes(upload.body), .zstd), content)

        var changed = content
        changed[350_000] ^= 1
        try Data(changed).write(to: URL(fileURLWithPath: path))
        let afterChange = UploadPreparation(sourcePath: path, algorithm: .zstd, level: nil, encryption: nil, concurrently: true)
        XCTAssertThrowsError(try afterChange.upload(matching: checksum, path: path)) { error in
            guard case .localIO(_, _, let detail) = error as? PayloadError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("changed while it was read"), detail)
        }
    }

    func testAllBodiesTogetherStayWithinTheSharedLimit() throws {
        let memory = UploadMemory(limit: 5 << 20)
        // About 1.5 MiB compressed: two 1 MiB chunks each, so two bodies fit and a third does not.
        let path = try source(randomBytes(3 << 19, seed: 21))
        var uploads: [PreparedUpload] = []
        for _ in 0..<4 {
            uploads.append(try PreparedUpload(sourcePath: path, algorithm: .zstd, memory: memory))
        }
        XCTAssertEqual(uploads.map(\.bodySource), [.memory, .memory, .recompressed, .recompressed])
        XCTAssertLessThanOrEqual(memory.usage.peak, memory.limit)
        let first = try uploadBodyBytes(uploads[0].body)
        for upload in uploads { XCTAssertEqual(try uploadBodyBytes(upload.body), first) }
        uploads.removeAll()
        XCTAssertEqual(memory.usage.current, 0)
    }

    /// The file changes after the first pass: the second pass produces other bytes, and the
    /// body fails before handing out its last byte, so no store can take it as complete.
    func testAFileChangedBetweenThePassesIsNeverSentWhole() throws {
        let content = randomBytes(1_500_000, seed: 31)
        let path = try source(content)
        let upload = try PreparedUpload(sourcePath: path, algorithm: .zstd, memory: UploadMemory(limit: 1 << 20))
        XCTAssertEqual(upload.bodySource, .recompressed)
        var changed = content
        changed[1_400_000] ^= 0xff
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.write(contentsOf: Data(changed))
        try handle.close()
        var delivered: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        XCTAssertThrowsError(try {
            while true {
                let count = try buffer.withUnsafeMutableBytes { try upload.body.read(into: $0, at: delivered) }
                if count == 0 { break }
                delivered += Int64(count)
            }
        }()) { error in
            guard case .localIO(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("changed while it was being archived"), detail)
        }
        XCTAssertLessThan(delivered, upload.bodyLength)
    }

    func testAnUncompressedBodyIsTheSourceItself() throws {
        let content = randomBytes(300_000, seed: 41)
        let upload = try PreparedUpload(sourcePath: try source(content), algorithm: .none, memory: UploadMemory(limit: 0))
        XCTAssertEqual(upload.bodySource, .sourceFile)
        XCTAssertEqual(try uploadBodyBytes(upload.body), content)
        XCTAssertEqual(upload.bodySHA256Hex, SHA256Hasher.hash(content).hexString)
    }
}
