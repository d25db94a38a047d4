import Glibc

/// Writes the `PrefetchRecord` of each file one download thread of the prefetch worker placed,
/// once the file's identity has settled: its status-change time (set by the rename that put it
/// in place) is at least `FileIdentity.settleNanoseconds` old and unchanged, so that any later
/// change of the file is given a later time and shows (FileIdentity says why). Records are
/// written between downloads, which take longer than that, so the thread waits only for the
/// last files of its batch. A file served before its record exists is verified in full.
///
/// One per thread: not shared.
final class PrefetchRecorder {
    let prefetchDirectory: String
    /// Nil when records cannot be kept (no private directory for them, or the kernel does not
    /// tell the boot): then none is written and every file is verified in full when served.
    let recordsDirectory: String?
    let archiveTag: String
    let bootIdentifier: String?
    private var placed: [(fileName: String, identity: FileIdentity)] = []

    init(prefetchDirectory: String, recordsDirectory: String?, archiveTag: String, bootIdentifier: String? = BootIdentifier.current) {
        self.prefetchDirectory = prefetchDirectory
        self.recordsDirectory = bootIdentifier == nil ? nil : recordsDirectory
        self.archiveTag = archiveTag
        self.bootIdentifier = bootIdentifier
    }

    /// `fileName` was just verified and renamed into the prefetch directory.
    func placed(_ fileName: String) {
        guard recordsDirectory != nil, let identity = FileIdentity(path: prefetchDirectory + "/" + fileName) else { return }
        placed.append((fileName, identity))
    }

    /// Writes the records of the files that have settled; `waiting`: of all of them, waiting
    /// for the last ones to settle (at the end of the thread's batch).
    func writeSettled(waiting: Bool) {
        guard let recordsDirectory, let bootIdentifier else { return }
        var unsettled: [(fileName: String, identity: FileIdentity)] = []
        for (fileName, identity) in placed {
            if !waiting && !identity.isSettled && identity.nanosecondsSinceChange >= 0 {
                unsettled.append((fileName, identity))
                continue
            }
            // A time ahead of the clock (a clock stepped back): never recorded.
            guard identity.waitUntilSettled() else { continue }
            let descriptor = open(prefetchDirectory + "/" + fileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            // On the disk before it is vouched for: a write-back error is reported now, and
            // the file goes without a record (verified in full if it is ever served), instead
            // of the page cache and the disk disagreeing under an unchanged identity. fsync
            // changes neither time.
            guard fsync(descriptor) == 0, let settled = FileIdentity(descriptor: descriptor), settled == identity,
                  settled.isSettled else { continue }
            try? PrefetchRecord(fileName: fileName, bootIdentifier: bootIdentifier, identity: identity)
                .write(in: recordsDirectory, archiveTag: archiveTag)
        }
        placed = unsettled
    }
}
