import Foundation
import Glibc
import XCTest

/// A small tmpfs mounted for one test, to see what the tools do on a full file system.
/// Mounting needs root (CI runs as root); elsewhere the test is skipped, saying why.
public enum SmallFileSystem {
    /// Mounts a new tmpfs of `bytes` (rounded up to pages) on `directory` (created if
    /// missing); it is unmounted when the test ends.
    public static func mount(_ test: XCTestCase, bytes: Int, on directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard geteuid() == 0 else {
            throw XCTSkip("mounting a small tmpfs needs root; run the suite as root (CI does) to test a full file system")
        }
        guard Glibc.mount("tmpfs", directory, "tmpfs", 0, "size=\(bytes),mode=0755") == 0 else {
            throw XCTSkip("cannot mount a tmpfs on \(directory): \(String(cString: strerror(errno))) (no CAP_SYS_ADMIN?)")
        }
        test.addTeardownBlock { _ = umount2(directory, Int32(MNT_DETACH)) }
    }

    /// Writes zeros to `directory/.filler` until the file system is full, then gives back
    /// `leaving` bytes (rounded down to whole 4 KiB blocks).
    public static func fill(_ directory: String, leaving: Int = 0) throws {
        let path = directory + "/.filler"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0, count: 4096)
        var written = 0
        while true {
            let count = block.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            written += count
        }
        guard errno == ENOSPC else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        if leaving > 0 { _ = ftruncate(descriptor, off_t(max(0, written - leaving / 4096 * 4096))) }
    }

    /// Bytes free for an unprivileged writer on the file system holding `path`.
    public static func freeBytes(_ path: String) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }
}
