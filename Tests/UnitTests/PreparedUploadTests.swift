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

    /// Compressed on its own thread from the chunks the caller's read hands over (through
    /// fewer buffers than the file has chunks, so both sides wait for each other), the upload is
    /// byte for byte the one a single-threaded read makes, and its checksum is the file's; also
    /// when the body does not fit in memory and is compressed again while sent, and when the file
    /// ends exactly at a chunk boundary.
    func testAnUploadCompressedOnItsOwnThreadIsTheSameAsOneMadeInOneRead() throws {
        let chunk = PreparedUpload.readChunkSize
        let contents = [
            [UInt8](repeating: 0, count: 5 * chunk / 2) + randomBytes(7 * chunk / 2 + 17, seed: 41),
            randomBytes(4 * chunk, seed: 42),
            [UInt8](repeating: 3, count: 1000),
        ]
        for (number, content) in contents.enumerated() {
            let path = try source(content)
            for (algorithm, limit) in [(CompressionAlgorithm.zstd, 64 << 20), (.gzip, 64 << 20), (.zstd, 1 << 20)] {
                let label = "content \(number), \(algorithm), memory \(limit)"
                let expected = try PreparedUpload(sourcePath: path, algorithm: algorithm, memory: UploadMemory(limit: limit))
                let preparation = UploadPreparation(sourcePath: path, algorithm: algorithm, level: nil, encryption: nil,
                                                    concurrently: true, memory: UploadMemory(limit: limit), handoffChunks: 2)
                XCTAssertTrue(preparation.isConcurrent, label)
                let checksum = try preparation.checksum()
                XCTAssertEqual(checksum, PreparedUpload.Checksum(sha256Hex: SHA256Hasher.hexDigest(ofFile: path) ?? "",
                                                                 size: Int64(content.count)), label)
                let upload = try preparation.upload()
                XCTAssertEqual(upload.bodySource, expected.bodySource, label)
                XCTAssertEqual(upload.metadata, expected.metadata, label)
                XCTAssertEqual(upload.bodySHA256Hex, expected.bodySHA256Hex, label)
                XCTAssertEqual(try uploadBodyBytes(upload.body), try uploadBodyBytes(expected.body), label)
            }
        }
    }

    /// A preparation given up before its file was read, or after it was read but before its
    /// upload was taken (a claim that conflicts), ends its thread and gives back its memory.
    func testAPreparationGivenUpEndsItsThreadAndGivesBackItsMemory() throws {
        let path = try source(randomBytes(3 * PreparedUpload.readChunkSize + 5, seed: 43))
        let memory = UploadMemory(limit: 64 << 20)
        do {
            let unread = UploadPreparation(sourcePath: path, algorithm: .zstd, level: nil, encryption: nil,
                                           concurrently: true, memory: memory, handoffChunks: 2)
            XCTAssertTrue(unread.isConcurrent)
        }
        do {
            let read = UploadPreparation(sourcePath: path, algorithm: .zstd, level: nil, encryption: nil,
                                         concurrently: true, memory: memory, handoffChunks: 2)
            _ = try read.checksum()
        }
        XCTAssertEqual(memory.usage.current, 0)
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
