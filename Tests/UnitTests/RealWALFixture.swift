import Foundation
import TestSupport
import XCTest

/// The committed real WAL segment: one completed 1 MiB segment written by PostgreSQL 15
/// (Fixtures/wal/make-fixture says how it was made), decompressed once per test process.
enum RealWALFixture {
    nonisolated(unsafe) private static var made: Result<URL, Error>?
    private static let lock = NSLock()

    static func segment() throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if made == nil {
            made = Result {
                let folder = try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Fixtures/wal")
                let compressed = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder.path)
                    .first { $0.hasSuffix(".zst") }, "no fixture in \(folder.path)")
                try FileManager.default.createDirectory(at: copies, withIntermediateDirectories: true)
                atexit { try? FileManager.default.removeItem(at: RealWALFixture.copies) }
                let bytes = try Codec.decompress(Array(Data(contentsOf: folder.appendingPathComponent(compressed))), .zstd)
                let segment = copies.appendingPathComponent(String(compressed.dropLast(".zst".count)))
                try Data(bytes).write(to: segment)
                return segment
            }
        }
        return try XCTUnwrap(made).get()
    }

    private static let copies = FileManager.default.temporaryDirectory.appendingPathComponent("wal-archive-real-wal-\(getpid())")
}
