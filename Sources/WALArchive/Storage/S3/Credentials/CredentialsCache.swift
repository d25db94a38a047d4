import Glibc

/// Temporary credentials kept on local disk between processes: PostgreSQL starts one
/// `wal-push`/`wal-fetch` per segment, and without this each would cost an STS or metadata
/// round trip. One file per source (named by the SHA-256 of its `cacheIdentity`) in a
/// directory of the user's own, `~/.cache/wal-archive/credentials` by default.
///
/// What makes it safe to read secrets back from disk: the directory is created 0700 and is
/// used only while it is owned by this user and closed to group and others; files are created
/// 0600 and read only while they are owned by this user with no group or other bits, through
/// O_NOFOLLOW (a planted symlink is not followed). Anything else is ignored, and the credentials
/// are fetched instead. Files are replaced by rename, so a reader sees a whole file or none.
struct CredentialsCache: Sendable {
    let directory: String

    private static let header = "wal-archive-credentials 1"

    /// The cache at `directory`, created if missing; nil when it cannot be made private to
    /// this user (then credentials are simply not cached).
    init?(directory: String) {
        guard Self.makePrivateDirectory(directory) else { return nil }
        self.directory = directory
    }

    /// `$XDG_CACHE_HOME/wal-archive/credentials`, else `~/.cache/wal-archive/credentials`.
    static func defaultDirectory(environment: [String: String]) -> String? {
        if let cacheHome = nonEmpty(environment["XDG_CACHE_HOME"]), cacheHome.hasPrefix("/") {
            return cacheHome + "/wal-archive/credentials"
        }
        guard let home = HomeDirectory.path(environment: environment) else { return nil }
        return home + "/.cache/wal-archive/credentials"
    }

    func read(identity: String) -> TemporaryCredentials? {
        let descriptor = open(path(identity), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(),
              info.st_mode & 0o077 == 0, info.st_size < 64 * 1024 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, $0.count - filled, off_t(filled)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            filled += count
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 5, lines[0] == Self.header, !lines[2].isEmpty, !lines[3].isEmpty else { return nil }
        let expiration: UTCTime?
        if lines[1] == "-" {
            expiration = nil
        } else if let seconds = Int64(lines[1]) {
            expiration = UTCTime(secondsSinceEpoch: seconds)
        } else {
            return nil
        }
        return TemporaryCredentials(keys: .init(accessKeyID: String(lines[2]), secretAccessKey: String(lines[3]),
                                                sessionToken: lines[4] == "-" ? nil : String(lines[4])),
                                    expiration: expiration)
    }

    /// Best effort: a cache that cannot be written only costs the next process a fetch.
    func write(_ credentials: TemporaryCredentials, identity: String) {
        let keys = credentials.keys
        let fields = [keys.accessKeyID, keys.secretAccessKey, keys.sessionToken ?? "-"]
        guard !fields.contains(where: { $0.isEmpty || $0.contains("\n") || $0.contains("\r") }) else { return }
        let text = [Self.header, credentials.expiration.map { String($0.secondsSinceEpoch) } ?? "-"] + fields
        let bytes = Array((text.joined(separator: "\n") + "\n").utf8)
        let temporary = path(identity) + ".tmp." + String(getpid()) + "." + FileOperations.randomToken()
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        // The mode given to open is reduced by the umask, never widened; fchmod makes it exact.
        let written = fchmod(descriptor, 0o600) == 0
            && (try? FileOperations.writeAll(descriptor, bytes, path: temporary)) != nil
        close(descriptor)
        if !written || rename(temporary, path(identity)) != 0 {
            unlink(temporary)
        }
    }

    func remove(identity: String) {
        unlink(path(identity))
    }

    /// Runs `body` holding an exclusive lock for this source, so that of several processes
    /// finding the same credentials stale, one fetches and the others read its result.
    func withRefreshLock<Result, Failure: Error>(identity: String,
                                                 _ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let descriptor = open(path(identity) + ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private func path(_ identity: String) -> String {
        directory + "/" + String(SHA256Hasher.hash(Array(identity.utf8)).hexString.prefix(32))
    }

    /// Creates missing components 0700; true when the final directory is a real directory
    /// owned by this user and closed to group and others.
    static func makePrivateDirectory(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        var info = stat()
        if lstat(path, &info) != 0 {
            let parent = FileOperations.directoryName(path)
            if parent != path && !FileOperations.isDirectory(parent) && !makePrivateDirectory(parent) { return false }
            guard mkdir(path, 0o700) == 0 || errno == EEXIST, lstat(path, &info) == 0 else { return false }
        }
        return (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid() && info.st_mode & 0o077 == 0
    }
}
