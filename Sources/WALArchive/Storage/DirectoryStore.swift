import Glibc

/// An `ObjectStore` over a local or mounted (NFS) directory, with the same keys as S3.
///
/// Each object is one file `<root>/<key>`. Its metadata travels in a short text header at
/// the start of that file (`wal-archive object 1`, `name: value` lines, a blank line), so an
/// object and its metadata appear together in a single atomic step: the file is written
/// under a temporary name in the target directory, fsynced, then linked (`ifAbsent`: `link`
/// fails if the name exists, so an existing object is never replaced) or renamed into place,
/// and the directory is fsynced. A file without the header (copied there by `cp`) is an
/// object without metadata.
///
/// The root itself is never created: a missing root usually means an unmounted share, and
/// writing into the empty mount point would hide the archive.
public final class DirectoryStore: ObjectStore {
    static let headerMagic = "wal-archive object 1\n"
    static let maximumHeaderLength = 64 * 1024
    private static let chunkSize = 1 << 20

    public let root: String
    public var location: String { "file://" + root }

    public init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    public func put(_ request: PutRequest) throws(StorageError) -> PutOutcome {
        let path = try path(for: request.key)
        try requireRoot()
        let directory = FileOperations.directoryName(path)
        do {
            try FileOperations.createDirectories(directory)
        } catch {
            throw Self.storageError(error)
        }
        let header = try Self.header(for: request.metadata)
        // A push killed while writing here left its temporary file in this very directory
        // (the one of the object's date): its retry, or the next push of that day, removes it.
        TemporaryFileCleanup.removeAbandoned(in: directory)
        let descriptor: Int32
        let temporary: String
        do {
            (descriptor, temporary) = try TemporaryFileCleanup.create(in: directory, permissions: 0o644)
        } catch {
            throw Self.storageError(error)
        }
        defer { close(descriptor) }
        do throws(StorageError) {
            do {
                try FileOperations.writeAll(descriptor, header, path: temporary)
            } catch {
                throw Self.storageError(error)
            }
            try copyBody(of: request, to: descriptor, path: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        // Durable and in one step: an object is either absent or complete with its metadata;
        // with `ifAbsent`, `link` never replaces an object that is already there.
        do {
            let placed = try FileOperations.placeAtomically(descriptor, temporary: temporary, at: path, durable: true,
                                                            createOnly: request.ifAbsent)
            return placed ? .stored : .alreadyExists
        } catch {
            throw Self.storageError(error)
        }
    }

    @discardableResult
    public func get(key: String, into sink: any ObjectSink) throws(StorageError) -> ObjectInfo {
        let path = try path(for: key)
        try requireRoot()
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw .notFound(key: key) }
            throw Self.storageError(.init(operation: "cannot open", path: path, code: errno))
        }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        let (info, bodyStart, firstCount) = try readHeader(descriptor, key: key, path: path, buffer: buffer)
        try sink.begin(info)
        if firstCount > bodyStart {
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[bodyStart..<firstCount]))
        }
        // The header was read with pread from offset 0: continue after what it read.
        var offset = Int64(firstCount)
        while true {
            let count: Int
            do {
                count = try FileOperations.readSome(descriptor, into: buffer, at: offset, path: path)
            } catch {
                throw Self.storageError(error)
            }
            if count == 0 { break }
            offset += Int64(count)
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        try sink.end()
        return info
    }

    public func head(key: String) throws(StorageError) -> ObjectInfo? {
        let path = try path(for: key)
        try requireRoot()
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.storageError(.init(operation: "cannot open", path: path, code: errno))
        }
        defer { close(descriptor) }
        // A push killed between placing the object and removing its temporary name left that
        // name here; the retry finds the object (so it never writes here again): clean up now.
        TemporaryFileCleanup.removeAbandoned(in: FileOperations.directoryName(path))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maximumHeaderLength, alignment: 16)
        defer { buffer.deallocate() }
        return try readHeader(descriptor, key: key, path: path, buffer: buffer).info
    }

    public func list(prefix: String, delimiter: String?, startAfter: String?, limit: Int) throws(StorageError) -> ObjectListing {
        guard delimiter == nil || delimiter == "/" else {
            throw .localIO(detail: "a directory archive can only list with the delimiter `/`")
        }
        try requireRoot()
        var listing = ObjectListing()
        let directoryKey: String
        let namePrefix: String
        if let slash = prefix.lastIndex(of: "/") {
            directoryKey = String(prefix[...slash])
            namePrefix = String(prefix[prefix.index(after: slash)...])
        } else {
            directoryKey = ""
            namePrefix = prefix
        }
        try collect(directoryKey: directoryKey, namePrefix: namePrefix, rollUp: delimiter != nil,
                    startAfter: startAfter ?? "", limit: limit, into: &listing)
        return listing
    }

    public func delete(key: String) throws(StorageError) {
        let path = try path(for: key)
        try requireRoot()
        if unlink(path) != 0 && errno != ENOENT {
            throw Self.storageError(.init(operation: "cannot delete", path: path, code: errno))
        }
        var directory = FileOperations.directoryName(path)
        while directory.count > root.count && rmdir(directory) == 0 {
            directory = FileOperations.directoryName(directory)
        }
    }

    public func listObjects(prefix: String, startAfter: String?, limit: Int) throws(StorageError) -> [ListedObject] {
        var objects: [ListedObject] = []
        for key in try list(prefix: prefix, delimiter: nil, startAfter: startAfter, limit: limit).keys {
            let path = root + "/" + key
            var info = stat()
            guard stat(path, &info) == 0 else {
                // Deleted since it was listed: no longer an object of the listing.
                if errno == ENOENT { continue }
                throw Self.storageError(.init(operation: "cannot stat", path: path, code: errno))
            }
            objects.append(ListedObject(key: key, size: Int64(info.st_size),
                                        lastModified: UTCTime(secondsSinceEpoch: Int64(info.st_mtim.tv_sec))))
        }
        return objects
    }

    public func delete(keys: [String]) throws(StorageError) -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        for key in keys {
            do {
                try delete(key: key)
            } catch {
                // A missing root fails the whole request, as an unreachable store would.
                if case .unavailable = error { throw error }
                failures.append(DeleteFailure(key: key, reason: error.message))
            }
        }
        return failures
    }

    // MARK: - Listing

    /// Appends, in key order, the keys (or with `rollUp` the common prefixes ending in `/`)
    /// under `directoryKey` whose next component starts with `namePrefix`.
    private func collect(directoryKey: String, namePrefix: String, rollUp: Bool, startAfter: String,
                         limit: Int, into listing: inout ObjectListing) throws(StorageError) {
        let directoryPath = directoryKey.isEmpty ? root : root + "/" + String(directoryKey.dropLast())
        let found: [(name: String, isDirectory: Bool)]
        do {
            found = try FileOperations.directoryEntriesWithKinds(directoryPath)
        } catch {
            if error.code == ENOENT || error.code == ENOTDIR { return }
            throw Self.storageError(error)
        }
        // A directory sorts as `name/`, which is how every key beneath it starts.
        var entries: [(sortKey: String, isDirectory: Bool)] = []
        for entry in found where entry.name.hasPrefix(namePrefix) && !entry.name.hasPrefix(TemporaryFileCleanup.prefix) {
            entries.append((entry.isDirectory ? entry.name + "/" : entry.name, entry.isDirectory))
        }
        entries.sort { $0.sortKey.utf8.lexicographicallyPrecedes($1.sortKey.utf8) }
        for entry in entries {
            if listing.keys.count + listing.commonPrefixes.count >= limit { return }
            let key = directoryKey + entry.sortKey
            if !entry.isDirectory {
                if startAfter.utf8.lexicographicallyPrecedes(key.utf8) { listing.keys.append(key) }
            } else if rollUp {
                if startAfter.utf8.lexicographicallyPrecedes(key.utf8) {
                    listing.commonPrefixes.append(key)
                } else if startAfter.hasPrefix(key) {
                    var probe = ObjectListing()
                    try collect(directoryKey: key, namePrefix: "", rollUp: false, startAfter: startAfter, limit: 1, into: &probe)
                    if !probe.keys.isEmpty { listing.commonPrefixes.append(key) }
                }
            } else if startAfter.utf8.lexicographicallyPrecedes(key.utf8) || startAfter.hasPrefix(key) {
                try collect(directoryKey: key, namePrefix: "", rollUp: false, startAfter: startAfter, limit: limit, into: &listing)
            }
        }
    }

    // MARK: - Files

    private func path(for key: String) throws(StorageError) -> String {
        let components = key.split(separator: "/", omittingEmptySubsequences: false)
        let valid = !key.isEmpty && !components.contains {
            $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(TemporaryFileCleanup.prefix)
        }
        guard valid else { throw .localIO(detail: "invalid object key `\(key)`") }
        return root + "/" + key
    }

    private func requireRoot() throws(StorageError) {
        guard FileOperations.isDirectory(root) else {
            throw .unavailable(detail: "archive directory \(root) does not exist or is not a directory (is it mounted?)")
        }
    }

    private static func header(for metadata: [String: String]) throws(StorageError) -> [UInt8] {
        var text = headerMagic
        for name in metadata.keys.sorted() {
            let value = metadata[name]!
            guard !name.isEmpty, !name.contains(":"), !name.contains("\n"), !value.contains("\n") else {
                throw .localIO(detail: "metadata `\(name)` cannot be stored in a directory archive")
            }
            text += name + ": " + value + "\n"
        }
        text += "\n"
        return Array(text.utf8)
    }

    /// Reads the first chunk and parses the header; returns the object's info, where its body
    /// starts in `buffer`, and how many bytes the buffer holds.
    private func readHeader(_ descriptor: Int32, key: String, path: String,
                            buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> (info: ObjectInfo, bodyStart: Int, count: Int) {
        var fileInfo = stat()
        guard fstat(descriptor, &fileInfo) == 0 else {
            throw Self.storageError(.init(operation: "cannot stat", path: path, code: errno))
        }
        let count: Int
        do {
            count = try FileOperations.readFully(descriptor, into: buffer, at: 0, path: path)
        } catch {
            throw Self.storageError(error)
        }
        let etag = "\"\(fileInfo.st_ino)-\(fileInfo.st_mtim.tv_sec).\(fileInfo.st_mtim.tv_nsec)-\(fileInfo.st_size)\""
        let magic = Array(Self.headerMagic.utf8)
        guard count >= magic.count, buffer[0..<magic.count].elementsEqual(magic) else {
            return (ObjectInfo(key: key, size: Int64(fileInfo.st_size), etag: etag), 0, count)
        }
        var metadata: [String: String] = [:]
        var lineStart = magic.count
        while true {
            guard let newline = buffer[lineStart..<count].firstIndex(of: UInt8(ascii: "\n")) else {
                throw .invalidResponse(detail: "object file \(path) has a damaged header")
            }
            if newline == lineStart {
                let bodyStart = newline + 1
                let info = ObjectInfo(key: key, size: Int64(fileInfo.st_size) - Int64(bodyStart), metadata: metadata, etag: etag)
                return (info, bodyStart, count)
            }
            let line = String(decoding: buffer[lineStart..<newline], as: UTF8.self)
            guard let colon = line.firstIndex(of: ":") else {
                throw .invalidResponse(detail: "object file \(path) has a damaged header")
            }
            let valueStart = line.index(colon, offsetBy: 2, limitedBy: line.endIndex) ?? line.endIndex
            metadata[String(line[..<colon])] = String(line[valueStart...])
            lineStart = newline + 1
        }
    }

    /// Copies the request's bytes and checks them against its SHA-256, as S3 does.
    private func copyBody(of request: PutRequest, to descriptor: Int32, path: String) throws(StorageError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256Hasher()
        var offset: Int64 = 0
        while offset < request.length {
            let wanted = Int(min(Int64(buffer.count), request.length - offset))
            let got = try request.body.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]), at: offset)
            if got == 0 {
                throw .localIO(detail: "the upload for \(request.key) ended after \(offset) of \(request.length) bytes")
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
            hasher.update(chunk)
            do {
                try FileOperations.writeAll(descriptor, chunk, path: path)
            } catch {
                throw Self.storageError(error)
            }
            offset += Int64(got)
        }
        guard hasher.finalize().hexString == request.sha256Hex else {
            throw .localIO(detail: "the upload for \(request.key) does not match its SHA-256 (changed while being stored?)")
        }
    }

    private static func storageError(_ failure: FileOperations.Failure) -> StorageError {
        switch failure.code {
        case EACCES, EPERM: return .accessDenied(detail: failure.message)
        case ENOENT, ESTALE, ETIMEDOUT, EIO: return .unavailable(detail: failure.message)
        default: return .localIO(detail: failure.message)
        }
    }
}
