import Foundation
import XCTest
import WALArchive

/// WAL segments with a valid long page header (PostgreSQL 15) and WAL-like compressible bytes
/// after it, for tests that need a file `wal-push` accepts.
public enum TestSegments {
    public struct Segment {
        public var path: String
        public var bytes: Data
    }

    /// The system identifier of the cluster the test segments come from, unless a test names another.
    public static let systemIdentifier: UInt64 = 7_300_000_000_000_000_001

    public static func writeSegment(name: String, in directory: String, segmentSize: Int = 16 << 20, seed: UInt64 = 7,
                                    systemIdentifier: UInt64 = TestSegments.systemIdentifier) throws -> Segment {
        let fileName = try WALFileName(parsing: name)
        let size = try XCTUnwrap(WALSegmentSize(bytes: segmentSize))
        let address = try XCTUnwrap(fileName.startLSN(segmentSize: size), "\(name) cannot exist with \(size) segments")
        let header = WALLongPageHeader(magic: try XCTUnwrap(WALPageMagic.magic(ofMajorVersion: 15)), info: WALLongPageHeader.longHeaderFlag,
                                       timeline: fileName.timeline, pageAddress: address,
                                       remainingLength: 0, systemIdentifier: systemIdentifier,
                                       segmentSize: UInt32(segmentSize), blockSize: 8192)
        var bytes = Data(count: segmentSize)
        var generator = SeededGenerator(seed: seed ^ UInt64(fileName.segment))
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            guard let base = words.baseAddress else { return }
            // Runs of zeros between random words, roughly as compressible as real WAL. A `while`
            // loop: unoptimised test builds pay a generic call per step of a `stride`.
            var index = 0
            while index < words.count {
                base[index] = generator.next()
                index += 4
            }
        }
        bytes.replaceSubrange(0..<WALLongPageHeader.byteCount, with: header.encoded)
        let path = directory + "/" + name
        try bytes.write(to: URL(fileURLWithPath: path))
        return Segment(path: path, bytes: bytes)
    }

    public static func setModificationTime(_ path: String, _ time: UTCTime) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: TimeInterval(time.secondsSinceEpoch))],
                                              ofItemAtPath: path)
    }
}
