import Glibc

extension SHA256Hasher {
    /// Lower-case hex SHA-256 of a whole file, read in bounded chunks; nil if it cannot be read.
    static func hexDigest(ofFile path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var hasher = SHA256Hasher()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            guard let count = try? FileOperations.readSome(descriptor, into: chunk, path: path) else { return nil }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
        }
        return hasher.finalize().hexString
    }
}
