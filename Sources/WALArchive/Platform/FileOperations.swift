import Glibc

/// The few POSIX file operations the archive needs, with errors carrying `errno` text.
public enum FileOperations {
    public struct Failure: Error, Sendable, Equatable {
        public var operation: String
        public var path: String
        public var code: Int32

        public var message: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    public static func readWholeFile(_ path: String, limit: Int = 1 << 20) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "cannot open", path: path, code: errno) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 16)
        defer { chunk.deallocate() }
        while contents.count <= limit {
            let count = try readSome(descriptor, into: chunk, path: path)
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
        throw Failure(operation: "refusing to read oversized", path: path, code: EFBIG)
    }

    /// One `read` (or `pread` at `offset`) into `buffer`, retried when a signal interrupts it;
    /// 0 only at the end of the file.
    public static func readSome(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil,
                                path: String) throws(Failure) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        while true {
            let count = offset.map { pread(descriptor, base, buffer.count, off_t($0)) } ?? read(descriptor, base, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw Failure(operation: "cannot read", path: path, code: errno) }
        }
    }

    /// Fills `buffer` from `offset` (pread) as far as the file allows; returns how many bytes
    /// it holds, fewer than its size only at the end of the file.
    public static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
                                 path: String) throws(Failure) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = try readSome(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]),
                                     at: offset + Int64(filled), path: path)
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Puts the complete temporary file `temporary` (in the same directory) at `path` in one
    /// step, so a reader sees either nothing or the whole file. `durable`: the file is fsynced
    /// before and the directory after, so the new name survives a crash. `createOnly`: `link`
    /// instead of `rename`, so an existing file is never replaced (false is returned then).
    /// The temporary name is gone afterwards, whatever happens.
    @discardableResult
    public static func placeAtomically(_ descriptor: Int32, temporary: String, at path: String, durable: Bool,
                                       createOnly: Bool = false) throws(Failure) -> Bool {
        defer { unlink(temporary) }
        if durable && fsync(descriptor) != 0 { throw Failure(operation: "cannot fsync", path: temporary, code: errno) }
        if createOnly {
            if link(temporary, path) != 0 {
                let code = errno
                if code == EEXIST { return false }
                // NFS may report a failed link that did happen; the link count tells.
                var info = stat()
                guard stat(temporary, &info) == 0, info.st_nlink == 2 else {
                    throw Failure(operation: "cannot link", path: path, code: code)
                }
            }
        } else if rename(temporary, path) != 0 {
            throw Failure(operation: "cannot rename into", path: path, code: errno)
        }
        if durable { try syncDirectory(directoryName(path)) }
        return true
    }

    /// Writes a small file atomically (temporary file in the same directory, then
    /// `placeAtomically`); durably when `durable`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool,
                                       permissions: mode_t = 0o600) throws(Failure) {
        let (descriptor, temporary) = try TemporaryFileCleanup.create(in: directoryName(path), permissions: permissions)
        defer { close(descriptor) }
        do {
            try writeAll(descriptor, bytes, path: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        try placeAtomically(descriptor, temporary: temporary, at: path, durable: durable)
    }

    /// Writes all of `bytes` to `descriptor`, retrying short writes.
    public static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "cannot write", path: path, code: errno)
            }
            offset += written
        }
    }

    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(operation: "cannot write", path: path, code: errno)
            }
            offset += written
        }
    }

    /// The absolute path without symbolic links (realpath), or nil when it does not resolve.
    public static func absolutePath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// True for a directory the tools may keep their own state in and clean up: a real
    /// directory (lstat: a symlink is refused, never followed), owned by the user running the
    /// tool, and writable by no one else. Anything else (a symlink left by a restored backup,
    /// a directory another user owns or may write to) could make a cleanup unlink files
    /// elsewhere, or make a fetch hand PostgreSQL a file it did not verify.
    public static func isPrivateDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid()
            && (info.st_mode & 0o022) == 0
    }

    /// Creates `path` (mode 0700; its parent must exist) when nothing is there, then says
    /// whether it is a private directory (`isPrivateDirectory`). A new entry is synced into
    /// its parent, so that what is written below it can be made durable.
    public static func preparePrivateDirectory(_ path: String) -> Bool {
        if mkdir(path, 0o700) == 0 {
            try? syncDirectory(directoryName(path))
        } else if errno != EEXIST {
            return false
        }
        return isPrivateDirectory(path)
    }

    /// True when anything (even a dangling symlink) is at `path`.
    public static func entryExists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func modificationTime(_ path: String) throws(Failure) -> UTCTime {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(operation: "cannot stat", path: path, code: errno) }
        return UTCTime(secondsSinceEpoch: Int64(info.st_mtim.tv_sec))
    }

    /// Flushes a directory's entries (a rename or link in it) to stable storage.
    public static func syncDirectory(_ path: String) throws(Failure) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "cannot open directory", path: path, code: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(operation: "cannot fsync directory", path: path, code: errno) }
    }

    /// Creates `path` and any missing parents, syncing each parent that gained an entry.
    public static func createDirectories(_ path: String) throws(Failure) {
        if isDirectory(path) { return }
        let parent = directoryName(path)
        if parent != path { try createDirectories(parent) }
        if mkdir(path, 0o755) != 0 {
            if errno == EEXIST && isDirectory(path) { return }
            throw Failure(operation: "cannot create directory", path: path, code: errno)
        }
        try syncDirectory(parent)
    }

    /// The directory part of a path, as `dirname` would give it.
    public static func directoryName(_ path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == 0 { return "/" }
        return String(decoding: bytes[..<slash], as: UTF8.self)
    }

    /// The last component of a path, as `basename` would give it.
    public static func baseName(_ path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: bytes[(slash + 1)...], as: UTF8.self)
    }

    /// Names in a directory, without `.` and `..`, unsorted.
    public static func directoryEntries(_ path: String) throws(Failure) -> [String] {
        try directoryEntriesWithKinds(path).map(\.name)
    }

    /// Names in a directory and whether each is a directory, without `.` and `..`, unsorted.
    /// The kind comes from `readdir` (no `stat` per entry, which matters on NFS); only file
    /// systems that do not report it cost a `stat`.
    public static func directoryEntriesWithKinds(_ path: String) throws(Failure) -> [(name: String, isDirectory: Bool)] {
        guard let directory = opendir(path) else { throw Failure(operation: "cannot list", path: path, code: errno) }
        defer { closedir(directory) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            let kind = entry.pointee.d_type
            let isDirectory = kind == UInt8(DT_UNKNOWN) ? Self.isDirectory(path + "/" + name) : kind == UInt8(DT_DIR)
            entries.append((name, isDirectory))
        }
        return entries
    }

    /// Random lower-case hex for unique temporary names.
    public static func randomToken() -> String {
        let value = UInt64.random(in: UInt64.min...UInt64.max)
        return (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }.hexString
    }
}

/// The process environment as a dictionary; of duplicate names the first wins, as with getenv.
public enum ProcessEnvironment {
    public static func current() -> [String: String] {
        var entries: [UnsafePointer<CChar>] = []
        var cursor = environ
        while let entry = cursor.pointee {
            entries.append(entry)
            cursor += 1
        }
        return parse(entries)
    }

    /// `NAME=value` entries: split at the first `=` (a value may hold more), the first entry of
    /// a name wins (as with getenv), an entry without `=` is skipped. On bytes, not Characters:
    /// it runs at every start-up over the whole inherited environment, and grapheme breaking
    /// made it a tenth of a served wal-fetch call's instructions.
    static func parse(_ entries: [UnsafePointer<CChar>]) -> [String: String] {
        var result: [String: String] = [:]
        result.reserveCapacity(entries.count)
        for entry in entries {
            let bytes = UnsafeRawBufferPointer(start: entry, count: strlen(entry))
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: bytes[..<equals], as: UTF8.self)
            if result[name] == nil { result[name] = String(decoding: bytes[(equals + 1)...], as: UTF8.self) }
        }
        return result
    }
}
