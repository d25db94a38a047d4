import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class SegmentPayloadTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = URL(fileURLWithPath: try makeTemporaryDirectory(self, "wal-payload"))
    }

    private func write(_ bytes: [UInt8], named name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func body(of upload: PreparedUpload) throws -> [UInt8] {
        try uploadBodyBytes(upload.body)
    }

    private func restoreDirectory() throws -> String {
        let path = directory.appendingPathComponent("pg_wal").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// What `ObjectStore.get` does: begin, then the bytes in chunks.
    private func deliver(_ bytes: [UInt8], as object: ObjectInfo, to sink: VerifyingFileSink, chunk: Int = 100_000) throws {
        try sink.begin(object)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            try bytes[offset..<end].withUnsafeBytes { try sink.write($0) }
            offset = end
        }
    }

    private func entries(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? []
    }

    // MARK: Preparing uploads

    func testPreparedUploadHashesCompressesAndDescribesTheFile() throws {
        var generator = SeededGenerator(seed: 99)
        let chunk = PreparedUpload.readChunkSize
        var sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk]
        sizes += (0..<4).map { _ in Int.random(in: 2...1_500_000, using: &generator) }
        for size in sizes {
            let content = generator.walLikeBytes(count: size)
            let source = try write(content, named: "source-\(size)")
            let originalHex = SHA256Hasher.hash(content).hexString
            for algorithm in CompressionAlgorithm.allCases {
                let upload = try PreparedUpload(sourcePath: source, algorithm: algorithm)
                XCTAssertEqual(upload.metadata.dictionary, [
                    "wal-sha256": originalHex, "wal-compression": algorithm.rawValue, "wal-size": String(size),
                ])
                XCTAssertEqual(upload.originalSize, Int64(size))
                let bytes = try body(of: upload)
                XCTAssertEqual(upload.bodySHA256Hex, SHA256Hasher.hash(bytes).hexString)
                XCTAssertEqual(try Codec.decompress(bytes, algorithm), content, "\(algorithm) size \(size)")
                if algorithm == .none { XCTAssertEqual(upload.bodySHA256Hex, originalHex) }

                let request = upload.putRequest(key: "p/2026-11-23/x" + algorithm.keySuffix)
                XCTAssertTrue(request.ifAbsent)
                XCTAssertEqual(request.length, upload.bodyLength)
                XCTAssertEqual(request.sha256Hex, upload.bodySHA256Hex)
                XCTAssertTrue(request.body === upload.body)
                XCTAssertEqual(upload.bodySource, algorithm == .none ? .sourceFile : .memory)
                XCTAssertEqual(request.metadata, upload.metadata.dictionary)
            }
        }
        XCTAssertTrue(entries(directory.path).allSatisfy { $0.hasPrefix("source-") }, "temporary files left behind")
    }

    func testEveryLevelOfferedProducesAVerifiableUpload() throws {
        var generator = SeededGenerator(seed: 5)
        let content = generator.walLikeBytes(count: 300_000)
        let source = try write(content, named: "source")
        for algorithm in CompressionAlgorithm.allCases {
            for level in algorithm.levels {
                let upload = try PreparedUpload(sourcePath: source, algorithm: algorithm, level: level)
                XCTAssertEqual(try Codec.decompress(try body(of: upload), algorithm), content, "\(algorithm) \(level)")
            }
        }
    }

    func testAMissingSourceIsATypedError() throws {
        XCTAssertThrowsError(try PreparedUpload(sourcePath: directory.appendingPathComponent("nope").path,
                                                algorithm: .zstd)) { error in
            guard case .localIO(let operation, _, _)? = error as? PayloadError else { return XCTFail("\(error)") }
            XCTAssertEqual(operation, "open")
        }
    }

    // MARK: Restoring with verification

    func testRoundTripThroughTheVerifyingSinkForEveryAlgorithm() throws {
        var generator = SeededGenerator(seed: 1234)
        let target = try restoreDirectory()
        for size in [0, 1, outputBufferSize, outputBufferSize + 1, 777_777] {
            let content = generator.walLikeBytes(count: size)
            let source = try write(content, named: "source")
            for algorithm in CompressionAlgorithm.allCases {
                let upload = try PreparedUpload(sourcePath: source, algorithm: algorithm)
                let sink = try VerifyingFileSink(directory: target, expecting: nil)
                let key = "p/2026-11-23/object" + algorithm.keySuffix
                try deliver(try body(of: upload), as: ObjectInfo(key: key, size: upload.bodyLength,
                                                             metadata: upload.metadata.dictionary),
                            to: sink, chunk: Int.random(in: 1...200_000, using: &generator))
                let verified = try sink.finish()
                XCTAssertEqual(verified, .init(key: key, size: Int64(size), sha256Hex: upload.originalSHA256Hex,
                                               algorithm: algorithm, checksumVerified: true))
                try sink.commit(to: target + "/RECOVERYXLOG")
                XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target + "/RECOVERYXLOG"))), content)
                XCTAssertEqual(entries(target), ["RECOVERYXLOG"])
            }
        }
    }

    func testRealWALSegmentRoundTripsWithItsNameChecked() throws {
        let segment = try RealWALFixture.segment()
        let name = try WALFileName(parsing: segment.lastPathComponent)
        let original = try [UInt8](Data(contentsOf: segment))
        let target = try restoreDirectory()
        for algorithm in CompressionAlgorithm.allCases {
            let upload = try PreparedUpload(sourcePath: segment.path, algorithm: algorithm)
            if algorithm != .none { XCTAssertLessThan(upload.bodyLength, Int64(original.count)) }
            let sink = try VerifyingFileSink(directory: target, expecting: name)
            try deliver(try body(of: upload), as: ObjectInfo(key: name.description + algorithm.keySuffix,
                                                         size: upload.bodyLength, metadata: upload.metadata.dictionary),
                        to: sink)
            XCTAssertTrue(try sink.finish().checksumVerified)
            try sink.commit(to: target + "/RECOVERYXLOG")
            XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target + "/RECOVERYXLOG"))), original)
        }
    }

    func testObjectFoundUnderTheWrongNameIsRefusedEvenWithAGoodChecksum() throws {
        let segment = try RealWALFixture.segment()
        let name = try WALFileName(parsing: segment.lastPathComponent)
        let wrongName = try XCTUnwrap(name.nextSegment(segmentSize: XCTUnwrap(WALSegmentSize(bytes: 1 << 20))))
        let upload = try PreparedUpload(sourcePath: segment.path, algorithm: .zstd)
        let target = try restoreDirectory()
        let sink = try VerifyingFileSink(directory: target, expecting: wrongName)
        try deliver(try body(of: upload), as: ObjectInfo(key: wrongName.description + ".zst", size: upload.bodyLength,
                                                     metadata: upload.metadata.dictionary), to: sink)
        XCTAssertThrowsError(try sink.finish()) { error in
            guard case .invalidContent(let key, _)? = error as? PayloadError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, wrongName.description + ".zst")
        }
        XCTAssertThrowsError(try sink.commit(to: target + "/RECOVERYXLOG"))
        sink.discard()
        XCTAssertEqual(entries(target), [])
    }

    /// WAL-like content from `seed`, prepared as an upload by each compressing algorithm.
    private func compressedUploads(seed: UInt64, count: Int) throws
        -> [(algorithm: CompressionAlgorithm, upload: PreparedUpload, good: [UInt8])] {
        var generator = SeededGenerator(seed: seed)
        let source = try write(generator.walLikeBytes(count: count), named: "source")
        return try [CompressionAlgorithm.gzip, .zstd].map { algorithm in
            let upload = try PreparedUpload(sourcePath: source, algorithm: algorithm)
            return (algorithm, upload, try body(of: upload))
        }
    }

    func testFlippedByteInACompressedBodyFailsAndLeavesNothing() throws {
        let target = try restoreDirectory()
        for (algorithm, upload, good) in try compressedUploads(seed: 31, count: 500_000) {
            for position in [0, 20, good.count / 3, good.count / 2, good.count - 5, good.count - 1] {
                var damaged = good
                damaged[position] ^= 0x40
                let key = "object" + algorithm.keySuffix
                do {
                    let sink = try VerifyingFileSink(directory: target, expecting: nil)
                    var failed = false
                    do {
                        try deliver(damaged, as: ObjectInfo(key: key, size: upload.bodyLength,
                                                            metadata: upload.metadata.dictionary), to: sink)
                        try sink.finish()
                    } catch let error as StorageError {
                        guard case .sinkFailed(let detail) = error else { return XCTFail("\(error)") }
                        XCTAssertTrue(detail.contains(key), detail)
                        failed = true
                    } catch let error as PayloadError {
                        XCTAssertTrue(error.message.contains(key), error.message)
                        failed = true
                    }
                    XCTAssertTrue(failed, "\(algorithm) flip at \(position) accepted")
                    XCTAssertThrowsError(try sink.commit(to: target + "/RECOVERYXLOG"))
                }
                XCTAssertEqual(entries(target), [], "\(algorithm) flip at \(position) left files")
            }
        }
    }

    func testFlippedByteInAPlainBodyFailsTheChecksum() throws {
        var generator = SeededGenerator(seed: 32)
        let content = generator.walLikeBytes(count: 200_000)
        let upload = try PreparedUpload(sourcePath: write(content, named: "source"), algorithm: .none)
        var damaged = try body(of: upload)
        damaged[123_456] ^= 0x01
        let target = try restoreDirectory()
        let sink = try VerifyingFileSink(directory: target, expecting: nil)
        try deliver(damaged, as: ObjectInfo(key: "plain", size: upload.bodyLength, metadata: upload.metadata.dictionary),
                    to: sink)
        XCTAssertThrowsError(try sink.finish()) { error in
            guard case .checksumMismatch(let key, let expected, _)? = error as? PayloadError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(key, "plain")
            XCTAssertEqual(expected, upload.originalSHA256Hex)
        }
        sink.discard()
        XCTAssertEqual(entries(target), [])
    }

    func testTruncatedCompressedBodyFails() throws {
        let target = try restoreDirectory()
        for (algorithm, upload, good) in try compressedUploads(seed: 33, count: 300_000) {
            for length in [0, 10, good.count / 2, good.count - 1] {
                let sink = try VerifyingFileSink(directory: target, expecting: nil)
                try deliver(Array(good.prefix(length)), as: ObjectInfo(key: "t" + algorithm.keySuffix,
                                                                       size: Int64(length),
                                                                       metadata: upload.metadata.dictionary), to: sink)
                XCTAssertThrowsError(try sink.finish(), "\(algorithm) cut at \(length)") { error in
                    guard case .corruptObject(let key, let detail)? = error as? PayloadError else {
                        return XCTFail("\(error)")
                    }
                    XCTAssertEqual(key, "t" + algorithm.keySuffix)
                    XCTAssertTrue(detail.contains("truncated"), detail)
                }
            }
            XCTAssertEqual(entries(target), [])
        }
    }

    func testARetriedDownloadStartsClean() throws {
        var generator = SeededGenerator(seed: 34)
        let content = generator.walLikeBytes(count: 400_000)
        let upload = try PreparedUpload(sourcePath: write(content, named: "source"), algorithm: .zstd)
        let good = try body(of: upload)
        let object = ObjectInfo(key: "r.zst", size: upload.bodyLength, metadata: upload.metadata.dictionary)
        let target = try restoreDirectory()
        let sink = try VerifyingFileSink(directory: target, expecting: nil)
        try deliver(Array(good.prefix(good.count / 2)), as: object, to: sink)
        try deliver(good, as: object, to: sink)
        XCTAssertEqual(try sink.finish().size, Int64(content.count))
        try sink.commit(to: target + "/out")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: target + "/out"))), content)
    }

    func testObjectsWithoutMetadataAreDecodedBySuffixAndCheckedByStructure() throws {
        let segment = try RealWALFixture.segment()
        let name = try WALFileName(parsing: segment.lastPathComponent)
        let original = try [UInt8](Data(contentsOf: segment))
        let target = try restoreDirectory()

        let plain = try VerifyingFileSink(directory: target, expecting: name)
        try deliver(original, as: ObjectInfo(key: "legacy/" + name.description, size: Int64(original.count)), to: plain)
        let verified = try plain.finish()
        XCTAssertFalse(verified.checksumVerified)
        XCTAssertEqual(verified.algorithm, CompressionAlgorithm.none)

        let compressed = try Codec.compress(original, .gzip)
        let foreign = try VerifyingFileSink(directory: target, expecting: name)
        try deliver(compressed, as: ObjectInfo(key: name.description + ".gz", size: Int64(compressed.count)), to: foreign)
        XCTAssertEqual(try foreign.finish().algorithm, .gzip)

        let short = try VerifyingFileSink(directory: target, expecting: name)
        try deliver(Array(original.prefix(1000)), as: ObjectInfo(key: name.description, size: Int64(original.count)),
                    to: short)
        XCTAssertThrowsError(try short.finish()) { error in
            XCTAssertEqual(error as? PayloadError,
                           .sizeMismatch(key: name.description, expected: Int64(original.count), actual: 1000))
        }

        let zeros = try VerifyingFileSink(directory: target, expecting: name)
        try deliver([UInt8](repeating: 0, count: original.count),
                    as: ObjectInfo(key: name.description, size: Int64(original.count)), to: zeros)
        XCTAssertThrowsError(try zeros.finish()) { error in
            guard case .invalidContent? = error as? PayloadError else { return XCTFail("\(error)") }
        }
    }

    func testContentLongerThanItsMetadataSaysIsCutOff() throws {
        var generator = SeededGenerator(seed: 35)
        let content = generator.walLikeBytes(count: 300_000)
        let upload = try PreparedUpload(sourcePath: write(content, named: "source"), algorithm: .zstd)
        var metadata = upload.metadata
        metadata.originalSize = 1000
        let sink = try VerifyingFileSink(directory: try restoreDirectory(), expecting: nil)
        XCTAssertThrowsError(try deliver(try body(of: upload), as: ObjectInfo(key: "big.zst", size: upload.bodyLength,
                                                                          metadata: metadata.dictionary), to: sink)) {
            guard case .sinkFailed(let detail)? = $0 as? StorageError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("big.zst"), detail)
        }
        XCTAssertThrowsError(try sink.finish())
    }

    func testMalformedMetadataIsRefusedAtBegin() throws {
        let sink = try VerifyingFileSink(directory: try restoreDirectory(), expecting: nil)
        for metadata in [["wal-compression": "lz4"], ["wal-sha256": "ABC"], ["wal-size": "-1"],
                         ["wal-sha256": String(repeating: "A", count: 64)]] {
            XCTAssertThrowsError(try sink.begin(ObjectInfo(key: "m", size: 1, metadata: metadata))) { error in
                guard case .sinkFailed(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
                XCTAssertTrue(detail.contains("object m has invalid metadata"), detail)
            }
        }
        XCTAssertThrowsError(try sink.finish()) { XCTAssertEqual($0 as? PayloadError, .notBegun) }
    }

    func testDiscardedOrAbandonedSinksRemoveTheirTemporaryFile() throws {
        let target = try restoreDirectory()
        do {
            let sink = try VerifyingFileSink(directory: target, expecting: nil)
            XCTAssertTrue(FileManager.default.fileExists(atPath: sink.temporaryPath))
            try deliver([1, 2, 3], as: ObjectInfo(key: "a", size: 3), to: sink)
        }
        XCTAssertEqual(entries(target), [])
        let sink = try VerifyingFileSink(directory: target, expecting: nil)
        sink.discard()
        sink.discard()
        XCTAssertEqual(entries(target), [])
    }
}
