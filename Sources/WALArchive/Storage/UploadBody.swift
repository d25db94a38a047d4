import Glibc

/// The bytes of one PUT. A store reads them from offset 0 forward, and from 0 again for each
/// retry; nothing else (curl only ever rewinds to the start).
public protocol UploadBody: AnyObject {
    var length: Int64 { get }
    /// Copies up to `buffer.count` bytes starting at `offset` into `buffer`; returns how many,
    /// 0 only at the end of the body.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int
}

/// `length` bytes of an open file from offset 0, read with pread (so a rewind is free). The
/// descriptor stays the caller's.
public final class FileUploadBody: UploadBody {
    public let descriptor: Int32
    public let length: Int64

    public init(descriptor: Int32, length: Int64) {
        self.descriptor = descriptor
        self.length = length
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int {
        let wanted = Int(max(0, min(Int64(buffer.count), length - offset)))
        guard wanted > 0 else { return 0 }
        let count: Int
        do {
            count = try FileOperations.readSome(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]),
                                                at: offset, path: "the upload")
        } catch {
            throw .localIO(detail: "cannot read the upload at offset \(offset): \(String(cString: strerror(error.code)))")
        }
        guard count > 0 else { throw .localIO(detail: "cannot read the upload at offset \(offset): the file ended early") }
        return count
    }
}

/// A small body held in memory (identity records, claims, tests).
public final class MemoryUploadBody: UploadBody {
    public let bytes: [UInt8]
    public var length: Int64 { Int64(bytes.count) }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StorageError) -> Int {
        guard offset >= 0, offset < length else { return 0 }
        let count = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<(Int(offset) + count)]))
        }
        return count
    }
}

extension UploadBody {
    /// SHA-256 of the body as it reads now; nil if it cannot be read to its length.
    func sha256Hex() -> String? {
        var hasher = SHA256Hasher()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        var offset: Int64 = 0
        while offset < length {
            guard let count = try? read(into: chunk, at: offset), count > 0 else { return nil }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
            offset += Int64(count)
        }
        return hasher.finalize().hexString
    }
}
