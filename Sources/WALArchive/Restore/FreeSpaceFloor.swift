import Glibc

/// The free space the prefetch worker always leaves on the file system of the prefetch
/// directory (that of `pg_wal`): it never takes it below the larger of `minimumBytes` and
/// `fraction` of the file system's size. Replay needs room there (`RECOVERYXLOG`, the segments
/// PostgreSQL keeps, new WAL once promoted); prefetched segments only save time and must never
/// be what fills it. Free space is what an unprivileged writer may use (statvfs `f_bavail`).
public struct FreeSpaceFloor: Sendable, Equatable {
    public var minimumBytes: Int64
    public var fraction: Double

    public init(minimumBytes: Int64, fraction: Double) {
        self.minimumBytes = minimumBytes
        self.fraction = fraction
    }

    /// 1 GiB or 5 %, whichever is larger.
    public static let standard = FreeSpaceFloor(minimumBytes: 1 << 30, fraction: 0.05)

    /// True when the file system holding `directory` keeps at least the floor after `bytes`
    /// more are written on top of `reserved` already promised; false when it cannot be read.
    func allows(_ bytes: Int64, reserved: Int64, in directory: String) -> Bool {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return false }
        let blockSize = Int64(info.f_frsize)
        let free = Int64(info.f_bavail) * blockSize
        let size = Int64(info.f_blocks) * blockSize
        let floor = max(minimumBytes, Int64(Double(size) * fraction))
        return free - reserved - bytes >= floor
    }
}

/// The space the downloads of one prefetch batch have promised themselves, shared by its
/// threads: a segment is started only if the floor still holds with every download in flight
/// counted at its full size (their partial files are already counted by statvfs, so this errs
/// on the side of free space).
final class PrefetchSpace: @unchecked Sendable {
    private let floor: FreeSpaceFloor
    private let directory: String
    private let segmentBytes: Int64
    private var reserved: Int64 = 0
    private let lock = Lock()

    init(floor: FreeSpaceFloor, directory: String, segmentBytes: Int64) {
        self.floor = floor
        self.directory = directory
        self.segmentBytes = segmentBytes
    }

    /// Takes room for one segment; false when that would cross the floor.
    func reserve() -> Bool {
        lock.withLock {
            guard floor.allows(segmentBytes, reserved: reserved, in: directory) else { return false }
            reserved += segmentBytes
            return true
        }
    }

    /// Gives the room back once the download ended (its file, if kept, now counts by itself).
    func release() {
        lock.withLock { reserved -= segmentBytes }
    }
}
