import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class CompressionTests: XCTestCase {
    private var sample: [UInt8] = {
        var generator = SeededGenerator(seed: 42)
        return generator.walLikeBytes(count: 600_000)
    }()

    func testKeySuffixesAndNames() {
        XCTAssertEqual(CompressionAlgorithm.zstd.keySuffix, ".zst")
        XCTAssertEqual(CompressionAlgorithm.gzip.keySuffix, ".gz")
        XCTAssertEqual(CompressionAlgorithm.none.keySuffix, "")
        XCTAssertEqual(CompressionAlgorithm(keySuffixOf: "p/2026-11-23/000000010000000000000001.zst"), .zstd)
        XCTAssertEqual(CompressionAlgorithm(keySuffixOf: "000000010000000000000001.gz"), .gzip)
        XCTAssertEqual(CompressionAlgorithm(keySuffixOf: "000000010000000000000001"), .none)
        XCTAssertEqual(CompressionAlgorithm(rawValue: "zstd"), .zstd)
        XCTAssertEqual(CompressionAlgorithm.default, .zstd)
        for algorithm in CompressionAlgorithm.allCases {
            XCTAssertTrue(algorithm.levels.contains(algorithm.defaultLevel))
        }
    }

    func testEveryAlgorithmAndLevelRoundTripsByteExact() throws {
        for algorithm in CompressionAlgorithm.allCases {
            for level in algorithm.levels {
                let compressed = try Codec.compress(sample, algorithm, level: level)
                if algorithm != .none { XCTAssertLessThan(compressed.count, sample.count, "\(algorithm) \(level)") }
                XCTAssertEqual(try Codec.decompress(compressed, algorithm), sample, "\(algorithm) level \(level)")
            }
        }
    }

    func testOutputIsTheStandardFormat() throws {
        let gzip = try Codec.compress(sample, .gzip)
        XCTAssertEqual(Array(gzip.prefix(2)), [0x1F, 0x8B])
        let zstd = try Codec.compress(sample, .zstd)
        XCTAssertEqual(Array(zstd.prefix(4)), [0x28, 0xB5, 0x2F, 0xFD])
    }

    func testUnofferedLevelsAreRefused() {
        for (algorithm, level) in [(CompressionAlgorithm.gzip, Int32(0)), (.gzip, 10), (.zstd, 0), (.zstd, 20), (.none, 1)] {
            XCTAssertThrowsError(try StreamCompressor(algorithm: algorithm, level: level)) { error in
                XCTAssertEqual(error as? CompressionError, .unsupportedLevel(algorithm, level))
            }
        }
    }

    func testRandomContentSizesAndChunkingRoundTrip() throws {
        var generator = SeededGenerator(seed: 20261123)
        let boundary = outputBufferSize
        var sizes = [0, 1, 2, boundary - 1, boundary, boundary + 1, 2 * boundary, 256 * 1024 + 1]
        sizes += (0..<12).map { _ in Int.random(in: 0...400_000, using: &generator) }
        for size in sizes {
            let content = Bool.random(using: &generator)
                ? generator.walLikeBytes(count: size)
                : generator.uniformBytes(count: size)
            for algorithm in CompressionAlgorithm.allCases {
                let inChunk = Int.random(in: 1...100_000, using: &generator)
                let outChunk = Int.random(in: 1...100_000, using: &generator)
                let compressed = try Codec.compress(content, algorithm, chunkSize: inChunk)
                XCTAssertEqual(try Codec.decompress(compressed, algorithm, chunkSize: outChunk), content,
                               "\(algorithm) size \(size) chunks \(inChunk)/\(outChunk)")
            }
        }
    }

    func testHighlyCompressibleInputExpandsThroughTheBoundedBuffer() throws {
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        for algorithm in [CompressionAlgorithm.gzip, .zstd] {
            let compressed = try Codec.compress(zeros, algorithm)
            XCTAssertLessThan(compressed.count, 100_000)
            let decompressor = try StreamDecompressor(algorithm: algorithm)
            var largestCallback = 0
            var total = 0
            let measure = { (bytes: UnsafeRawBufferPointer) throws(Never) in
                largestCallback = max(largestCallback, bytes.count)
                total += bytes.count
            }
            try compressed.withUnsafeBytes { try decompressor.push($0, output: measure) }
            try decompressor.finish(output: measure)
            XCTAssertEqual(total, zeros.count)
            XCTAssertLessThanOrEqual(largestCallback, outputBufferSize)
        }
    }

    func testTruncatedInputIsRefused() throws {
        for algorithm in [CompressionAlgorithm.gzip, .zstd] {
            let compressed = try Codec.compress(sample, algorithm)
            for length in [0, 1, 4, compressed.count / 2, compressed.count - 1] {
                XCTAssertThrowsError(try Codec.decompress(Array(compressed.prefix(length)), algorithm),
                                     "\(algorithm) cut at \(length)") { error in
                    guard let codecError = Codec.codecError(error) else { return XCTFail("\(error)") }
                    switch codecError {
                    case .truncatedInput(algorithm), .corruptInput(algorithm, _): break
                    default: XCTFail("\(algorithm) cut at \(length): \(codecError)")
                    }
                }
            }
        }
    }

    func testTrailingGarbageIsRefused() throws {
        for algorithm in [CompressionAlgorithm.gzip, .zstd] {
            let compressed = try Codec.compress(sample, algorithm)
            for garbage in [[UInt8(0)], Array("junk".utf8), compressed] {
                for chunk in [compressed.count + garbage.count, compressed.count, 1000] {
                    XCTAssertThrowsError(try Codec.decompress(compressed + garbage, algorithm, chunkSize: chunk)) { error in
                        XCTAssertEqual(Codec.codecError(error), .trailingData(algorithm), "\(algorithm) chunk \(chunk)")
                    }
                }
            }
        }
    }

    /// gzip carries a CRC-32 of the content and our zstd frames an XXH64 checksum, so a
    /// flipped bit either fails decoding or (in header fields such as gzip's MTIME) changes
    /// nothing: never different content without an error.
    func testFlippedBitsNeverDecodeToDifferentContent() throws {
        var generator = SeededGenerator(seed: 7)
        let content = generator.walLikeBytes(count: 40_000)
        for algorithm in [CompressionAlgorithm.gzip, .zstd] {
            let compressed = try Codec.compress(content, algorithm)
            var positions = Set((0..<60).map { _ in Int.random(in: 0..<compressed.count, using: &generator) })
            positions.formUnion([0, 3, 12, compressed.count / 2, compressed.count - 1])
            var refused = 0
            for position in positions {
                var damaged = compressed
                damaged[position] ^= 0x01
                do {
                    let output = try Codec.decompress(damaged, algorithm)
                    XCTAssertEqual(output, content, "\(algorithm) flip at \(position) gave other content")
                } catch {
                    XCTAssertNotNil(Codec.codecError(error), "\(error)")
                    refused += 1
                }
            }
            XCTAssertGreaterThan(refused, positions.count / 2, "\(algorithm)")
        }
    }

    func testOutputFailureIsPassedThroughTyped() throws {
        struct Full: Error, Equatable {}
        let compressor = try StreamCompressor(algorithm: .zstd)
        XCTAssertThrowsError(try sample.withUnsafeBytes { bytes in
            try compressor.push(bytes) { (_: UnsafeRawBufferPointer) throws(Full) in throw Full() }
            try compressor.finish { (_: UnsafeRawBufferPointer) throws(Full) in throw Full() }
        }) { error in
            guard case .output(let full)? = error as? CodecFailure<Full> else { return XCTFail("\(error)") }
            XCTAssertEqual(full, Full())
        }
    }
}
