import Glibc

/// The memory the compressed bodies of one process may hold at once, shared by `wal-push`'s
/// own upload and its push-ahead threads.
///
/// Why memory and not a temporary file: the file would have to go somewhere, and `pg_wal` is
/// exactly the file system that is full when archiving has been failing for a while (every
/// unarchived segment stays there); a directory on another file system may not exist, may be
/// the same disk, or may be tmpfs (memory again). A 16 MiB segment compresses to a few MiB, so
/// five uploads at once fit comfortably. A body that would not fit (large `wal_segment_size`,
/// incompressible WAL, many threads) is not kept at all: it is compressed twice, once to learn
/// its length and SHA-256 (which the PUT must announce first) and again while it is sent
/// (`RecompressingUploadBody`). So `wal-push` needs no free space anywhere, and its memory stays
/// below `limit` plus each thread's codec state and read buffers, whatever the segment size.
public final class UploadMemory: @unchecked Sendable {
    /// 64 MiB: five 16 MiB segments at their usual 3–5 MiB compressed, with room to spare.
    public static let shared = UploadMemory(limit: 64 << 20)

    public let limit: Int
    private var used = 0
    private var highest = 0
    private let lock = Lock()

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes `bytes` of the budget if they are free; never waits.
    func reserve(_ bytes: Int) -> Bool {
        lock.withLock {
            guard used + bytes <= limit else { return false }
            used += bytes
            highest = max(highest, used)
            return true
        }
    }

    func release(_ bytes: Int) {
        lock.withLock { used -= bytes }
    }

    /// Bytes held now, and the most ever held at once.
    public var usage: (current: Int, peak: Int) {
        lock.withLock { (used, highest) }
    }
}
