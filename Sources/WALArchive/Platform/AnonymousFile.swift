import Glibc

/// A file without a name: gone by itself when its descriptor is closed or the process ends,
/// however it ends, so nothing is ever left behind to clean up.
public enum AnonymousFile {
    /// O_TMPFILE is not exported to Swift by Glibc (it needs _GNU_SOURCE); its value is
    /// __O_TMPFILE (octal 20000000 on every Linux architecture) with O_DIRECTORY.
    static let openTemporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    /// A new empty file on the file system of `directory` (O_TMPFILE, or a created-and-unlinked
    /// file where the file system lacks it), open for reading and writing.
    public static func create(in directory: String) throws(FileOperations.Failure) -> Int32 {
        let descriptor = open(directory, openTemporaryFile | O_RDWR | O_CLOEXEC, 0o600)
        if descriptor >= 0 { return descriptor }
        guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
            throw .init(operation: "cannot create a temporary file in", path: directory, code: errno)
        }
        let (fallback, path) = try TemporaryFileCleanup.create(in: directory)
        unlink(path)
        return fallback
    }

    /// A new anonymous file in `directory` holding `bytes`, positioned at offset 0.
    public static func holding(_ bytes: [UInt8], in directory: String) throws(FileOperations.Failure) -> Int32 {
        let descriptor = try create(in: directory)
        do {
            try FileOperations.writeAll(descriptor, bytes, path: directory + "/(temporary file)")
        } catch {
            close(descriptor)
            throw error
        }
        guard lseek(descriptor, 0, SEEK_SET) == 0 else {
            let failure = FileOperations.Failure(operation: "cannot rewind a temporary file in", path: directory, code: errno)
            close(descriptor)
            throw failure
        }
        return descriptor
    }
}
