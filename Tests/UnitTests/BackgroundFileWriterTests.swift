import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// The writer wal-fetch decodes into: every byte written and hashed once, in order, on its own
/// thread, and a write failure never lost.
final class BackgroundFileWriterTests: XCTestCase {
    func openFile(_ flags: Int32) throws -> (descriptor: Int32, path: String) {
        let path = try makeTemporaryDirectory(self, "writer") + "/file"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        let descriptor = open(path, flags)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        addTeardownBlock { close(descriptor) }
        return (descriptor, path)
    }

    func write(_ bytes: [UInt8], to writer: BackgroundFileWriter) -> FileOperations.Failure? {
        var failure: FileOperations.Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(FileOperations.Failure) { try writer.write(buffer) } catch { failure = error }
        }
        return failure
    }

    func testWritesAndHashesTheBytesInOrderWhateverTheirPieces() throws {
        var generator = SeededGenerator(seed: 7)
        // More than every slot holds, in pieces smaller and larger than a slot, some empty.
        let total = BackgroundFileWriter.slotSize * (BackgroundFileWriter.slotCount + 3) + 12_345
        let bytes = generator.walLikeBytes(count: total)
        let expected = SHA256Hasher.hash(bytes).hexString
        for pieceSizes in [[65_536], [0, 4096, 65_536], [BackgroundFileWriter.slotSize * 3 + 7, 100_000, 0]] {
            let file = try openFile(O_WRONLY)
            let writer = BackgroundFileWriter(descriptor: file.descriptor, path: file.path)
            var offset = 0
            var index = 0
            while offset < bytes.count {
                let count = min(pieceSizes[index % pieceSizes.count], bytes.count - offset)
                XCTAssertNil(write(Array(bytes[offset..<(offset + count)]), to: writer))
                offset += count
                index += 1
            }
            XCTAssertEqual(try writer.finish().hexString, expected, "pieces \(pieceSizes)")
            XCTAssertEqual(FileManager.default.contents(atPath: file.path), Data(bytes), "pieces \(pieceSizes)")
            XCTAssertThrowsError(try writer.finish(), "the digest is given once")
        }
    }

    func testAFailedWriteIsReportedAndNothingAfterItIsWritten() throws {
        let file = try openFile(O_RDONLY)
        let writer = BackgroundFileWriter(descriptor: file.descriptor, path: file.path)
        let piece = [UInt8](repeating: 1, count: 1000)
        var thrown: FileOperations.Failure?
        for _ in 0..<(BackgroundFileWriter.slotCount * 4) where thrown == nil {
            thrown = write(piece, to: writer)
        }
        let finished: FileOperations.Failure?
        do throws(FileOperations.Failure) {
            _ = try writer.finish()
            finished = nil
        } catch {
            finished = error
        }
        XCTAssertEqual(finished?.code, EBADF)
        XCTAssertEqual(finished?.path, file.path)
        if let thrown { XCTAssertEqual(thrown, finished) }
    }

    func testADroppedWriterWritesWhatWasQueuedAndStopsItsThread() throws {
        let bytes = [UInt8](repeating: 7, count: BackgroundFileWriter.slotSize * 2 + 3)
        for _ in 0..<10 {
            let file = try openFile(O_WRONLY)
            do {
                let writer = BackgroundFileWriter(descriptor: file.descriptor, path: file.path)
                XCTAssertNil(write(bytes, to: writer))
            }
            XCTAssertEqual(FileManager.default.contents(atPath: file.path)?.count, bytes.count)
        }
    }
}
