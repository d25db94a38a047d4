import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class TemporaryFileCleanupTests: XCTestCase {
    /// Names carry the writer's pid and this machine's tag (host and boot): of this machine a
    /// file goes when its writer is gone (or a zombie), of another one when it has not changed
    /// for an hour; anything else stays.
    func testRemovesOnlyTemporaryFilesOfWritersThatAreGone() throws {
        let directory = try makeTemporaryDirectory(self)
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let zombie = try unreapedChild()
        defer { waitpid(zombie, nil, 0) }
        let gone = TemporaryFileCleanup.name(pid: finished.processIdentifier)
        let killed = TemporaryFileCleanup.name(pid: zombie)
        let running = TemporaryFileCleanup.name(pid: 1)
        let own = TemporaryFileCleanup.name()
        let otherMachine = ".wal-archive-tmp.\(finished.processIdentifier).\(otherTag())0123abcd"
        let otherMachineOld = ".wal-archive-tmp.1.\(otherTag())4567cdef"
        for name in [gone, killed, running, own, otherMachine, otherMachineOld, "000000010000000000000001", ".wal-archive-tmp.unrelated"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([1])))
        }
        try TestSegments.setModificationTime(directory + "/" + otherMachineOld, UTCTime(secondsSinceEpoch: UTCTime.now().secondsSinceEpoch - 7_200))
        TemporaryFileCleanup.removeAbandoned(in: directory)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       [own, running, otherMachine, ".wal-archive-tmp.unrelated", "000000010000000000000001"].sorted())
    }

    func testNamesCarryThePidAndTheMachine() {
        let name = TemporaryFileCleanup.name()
        XCTAssertTrue(name.hasPrefix(".wal-archive-tmp.\(getpid()).\(TemporaryFileCleanup.machineTag)"), name)
        XCTAssertEqual(name.split(separator: ".").last?.count, 16)
        XCTAssertNotEqual(TemporaryFileCleanup.name(), name)
        XCTAssertEqual(TemporaryFileCleanup.machineTag.count, 8)
    }

    /// The tag names this host and boot the same way in every version, so that temporary files
    /// of a writer that died before an upgrade are still known as this machine's.
    func testTheMachineTagIsFNV1aOfTheHostNameAndTheBootIDAsTheKernelPrintsIt() throws {
        var host = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(gethostname(&host, host.count - 1), 0)
        var identity = host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        identity += try XCTUnwrap(FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id"))
        var hash: UInt32 = 2_166_136_261
        for byte in identity { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        XCTAssertEqual(TemporaryFileCleanup.machineTag, String(repeating: "0", count: 8 - hex.count) + hex)
    }

    func testTrackedPathsAreUniqueAndInTheDirectory() {
        let first = TemporaryFileCleanup.track(in: "/tmp/x")
        let second = TemporaryFileCleanup.track(in: "/tmp/x")
        TemporaryFileCleanup.untrack()
        XCTAssertTrue(first.hasPrefix("/tmp/x/.wal-archive-tmp.\(getpid())."))
        XCTAssertNotEqual(first, second)
    }

    /// A tag that is not this machine's.
    private func otherTag() -> String {
        TemporaryFileCleanup.machineTag == "00000000" ? "11111111" : "00000000"
    }

    /// A child that has exited but is not reaped yet (a zombie), as a killed prefetch worker is
    /// until init reaps it.
    private func unreapedChild() throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        XCTAssertEqual(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ), 0)
        // Its state turns to Z when it has exited; waitid with WNOWAIT waits without reaping.
        var info = siginfo_t()
        XCTAssertEqual(waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT), 0)
        XCTAssertFalse(TemporaryFileCleanup.isRunning(pid))
        return pid
    }
}
