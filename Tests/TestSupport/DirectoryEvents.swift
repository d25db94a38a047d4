import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Waits for what happens in directories (inotify), so a test reacts to an event — a file
/// created, written, renamed into place, a directory opened — instead of sleeping and hoping.
/// Create it BEFORE starting what produces the events: nothing is missed in between.
public final class DirectoryEvents {
    public struct WatchFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Changes to entries: created, written, closed after writing, renamed in or out, removed.
    public static let changes = UInt32(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
    /// The directory itself opened (as `opendir` does before listing it).
    public static let opened = UInt32(IN_OPEN)
    /// Closed without having been written (a directory after `opendir`/`closedir`).
    public static let closedUnwritten = UInt32(IN_CLOSE_NOWRITE)

    private let descriptor: Int32

    /// Watches each directory (which must exist) for the events in `mask`.
    public init(watching directories: [String], mask: UInt32 = DirectoryEvents.changes) throws {
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else { throw WatchFailure(description: "inotify_init1: \(String(cString: strerror(errno)))") }
        for directory in directories where inotify_add_watch(descriptor, directory, mask) < 0 {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw WatchFailure(description: "cannot watch \(directory): \(reason)")
        }
    }

    deinit { close(descriptor) }

    /// Evaluates `condition` now and again after every batch of events, until it holds (true)
    /// or `timeoutSeconds` pass without it holding (false). The timeout only bounds a failing
    /// test; a passing one continues at the event that made the condition true.
    public func wait(timeoutSeconds: Double = 60, until condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if try condition() { return true }
            guard awaitEvents(before: deadline) > 0 else { return try condition() }
        }
    }

    /// Waits until `count` events have arrived (true), or the time is up (false).
    public func waitForEvents(count: Int, timeoutSeconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var seen = 0
        while seen < count {
            let arrived = awaitEvents(before: deadline)
            if arrived == 0 { return false }
            seen += arrived
        }
        return true
    }

    /// How many events have arrived and not been read yet, read without waiting. The kernel
    /// merges identical events in a row, so to count how often a directory was listed, watch
    /// `opened | closedUnwritten`: each listing is an open and then a close.
    public func pendingEvents() -> Int {
        awaitEvents(before: Date())
    }

    /// Blocks until at least one event arrives or the deadline passes; returns how many were read.
    private func awaitEvents(before deadline: Date) -> Int {
        let milliseconds = Int32(max(0, min(deadline.timeIntervalSinceNow * 1000, Double(Int32.max))))
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, milliseconds) > 0 else { return 0 }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        var events = 0
        var offset = 0
        let headerSize = MemoryLayout<inotify_event>.size
        while offset + headerSize <= count {
            let nameLength = buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 12, as: UInt32.self) }
            offset += headerSize + Int(nameLength)
            events += 1
        }
        return events
    }
}
