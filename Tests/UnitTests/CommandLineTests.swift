import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// Runs the built `wal-push`/`wal-fetch` as PostgreSQL would: from a data directory, with
/// `%p` under `pg_wal/`, with only the environment given.
class BuiltToolTestCase: XCTestCase {
    struct Result {
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String
    }

    var dataDirectory = ""
    var archive = ""

    override func setUpWithError() throws {
        dataDirectory = try makeTemporaryDirectory(self, "pgdata")
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal", withIntermediateDirectories: true)
        archive = try makeTemporaryDirectory(self, "archive")
    }

    func launch(_ tool: String, _ arguments: [String], environment: [String: String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = TestPaths.builtProducts.appendingPathComponent(tool)
        process.arguments = arguments
        process.environment = HermeticEnvironment.merged(with: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
        process.currentDirectoryURL = URL(fileURLWithPath: dataDirectory)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return (process, output, errors)
    }

    func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let (process, output, errors) = try launch(tool, arguments, environment: environment)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    var directoryEnvironment: [String: String] { ["WAL_ARCHIVE_URL": "file://" + archive] }

    func assertOneLine(_ result: Result, _ prefix: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(result.stderr.hasPrefix(prefix), result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
    }

    /// Waits until a fetch has written part of its temporary file (it is mid-download).
    func waitForPartialTemporaryFile(in directory: String) throws -> Bool {
        for _ in 0..<10_000 {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix(".wal-archive-tmp.") {
                let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0
                if size > 0 { return true }
            }
            usleep(500)
        }
        return false
    }

}

/// Exit codes and the one stderr line of the built executables.
final class CommandLineTests: BuiltToolTestCase {
    func testHelpAndVersion() throws {
        for tool in ["wal-push", "wal-fetch"] {
            let help = try run(tool, ["--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.stdout.hasPrefix("Usage: \(tool) [options]"), help.stdout)
            XCTAssertEqual(help.stderr, "")
            let version = try run(tool, ["--version"])
            XCTAssertEqual(version.status, 0)
            XCTAssertEqual(version.stdout, "\(tool) (wal-archive) \(WALArchiveVersion.current)\n")
        }
    }

    func testUsageAndConfigurationErrors() throws {
        let pushWithoutPath = try run("wal-push", [], environment: directoryEnvironment)
        XCTAssertEqual(pushWithoutPath.status, 2)
        assertOneLine(pushWithoutPath, "wal-push: expected one argument")
        let fetchWithOneArgument = try run("wal-fetch", ["000000010000000000000001"], environment: directoryEnvironment)
        XCTAssertEqual(fetchWithOneArgument.status, 255)
        assertOneLine(fetchWithOneArgument, "wal-fetch: expected two arguments")
        let unknown = try run("wal-push", ["--bucket", "b", "pg_wal/x"], environment: directoryEnvironment)
        XCTAssertEqual(unknown.status, 2)
        assertOneLine(unknown, "wal-push: unknown option --bucket; see --help")

        let pushWithoutURL = try run("wal-push", ["pg_wal/000000010000000000000001"])
        XCTAssertEqual(pushWithoutURL.status, 2)
        assertOneLine(pushWithoutURL, "wal-push: WAL_ARCHIVE_URL is not set; set it (WAL_ARCHIVE_URL, --url,")
        let fetchWithoutURL = try run("wal-fetch", ["000000010000000000000001", "pg_wal/RECOVERYXLOG"])
        XCTAssertEqual(fetchWithoutURL.status, 255)
        assertOneLine(fetchWithoutURL, "wal-fetch: WAL_ARCHIVE_URL is not set")
        let secret = "do-not-print-this-secret"
        let missingKey = try run("wal-fetch", ["000000010000000000000001", "pg_wal/RECOVERYXLOG"],
                                 environment: ["WAL_ARCHIVE_URL": "s3://bucket", "AWS_SECRET_ACCESS_KEY": secret])
        XCTAssertEqual(missingKey.status, 255)
        assertOneLine(missingKey, "wal-fetch: AWS_ACCESS_KEY_ID is not set")
        XCTAssertFalse(missingKey.stderr.contains(secret))
    }

    func testBadFileNamesExit255() throws {
        for name in ["../000000010000000000000001", "garbage", "00000001000000000000000Z"] {
            let result = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
            XCTAssertEqual(result.status, 255, name)
            assertOneLine(result, "wal-fetch: \"\(name)\" is not a")
            XCTAssertTrue(result.stderr.hasSuffix("; check restore_command (it should be `wal-fetch %f %p`)\n"), result.stderr)
        }
    }

    func testPushAndFetchThroughTheDirectoryArchive() throws {
        let name = segmentName(timeline: 1, number: 0x21)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let push = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment).status, 0)

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/pg_wal/RECOVERYXLOG")), segment.bytes)

        let stored = try XCTUnwrap(FileManager.default.enumerator(atPath: archive)?.compactMap { $0 as? String }
            .first { $0.hasSuffix(name + ".zst") })
        let original = try Data(contentsOf: URL(fileURLWithPath: archive + "/" + stored))
        var damaged = original
        damaged[damaged.count - 100] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: archive + "/" + stored))
        try FileManager.default.removeItem(atPath: dataDirectory + "/pg_wal/RECOVERYXLOG")
        let corrupt = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(corrupt.status, 255)
        assertOneLine(corrupt, "wal-fetch: ")
        XCTAssertTrue(corrupt.stderr.contains(stored), corrupt.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal").sorted(), [".wal-archive", name])
        try original.write(to: URL(fileURLWithPath: archive + "/" + stored))

        let missing = try run("wal-fetch", [segmentName(timeline: 1, number: 0x22), "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(missing.status, 1)
        assertOneLine(missing, "wal-fetch: \(segmentName(timeline: 1, number: 0x22)) is not in the archive file://")
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
        let missingOnStandby = try run("wal-fetch", [segmentName(timeline: 1, number: 0x22), "pg_wal/RECOVERYXLOG"],
                                       environment: directoryEnvironment)
        try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal")
        XCTAssertEqual(missingOnStandby.status, 1)
        XCTAssertEqual(missingOnStandby.stdout + missingOnStandby.stderr, "", "a standby's expected miss stays out of the log")

        let modification = try FileOperations.modificationTime(segment.path)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", seed: 99)
        try TestSegments.setModificationTime(segment.path, modification)
        let conflict = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(conflict.status, 4)
        assertOneLine(conflict, "wal-push: a different file is already archived as ")

        let truncated = dataDirectory + "/pg_wal/" + segmentName(timeline: 1, number: 0x23)
        try Data(segment.bytes.prefix(1 << 20)).write(to: URL(fileURLWithPath: truncated))
        let refused = try run("wal-push", [truncated], environment: directoryEnvironment)
        XCTAssertEqual(refused.status, 3)
        assertOneLine(refused, "wal-push: ")
    }

    func testUnreachableArchiveIsFatalInRecoveryAndRetriedInStandby() throws {
        let unmounted = ["WAL_ARCHIVE_URL": "file://" + archive + "/not-mounted"]
        let unreachableS3 = ["WAL_ARCHIVE_URL": "s3://bucket/p", "WAL_ARCHIVE_ENDPOINT": "http://127.0.0.1:9",
                             "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret",
                             "WAL_ARCHIVE_RETRY_BUDGET": "2", "WAL_ARCHIVE_MAX_ATTEMPTS": "2", "WAL_ARCHIVE_CONNECT_TIMEOUT": "1"]
        let name = segmentName(timeline: 1, number: 0x30)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        for environment in [unmounted, unreachableS3] {
            let recovery = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(recovery.status, 255, recovery.stderr)
            assertOneLine(recovery, "wal-fetch: cannot fetch \(name): storage unavailable")
            let push = try run("wal-push", ["pg_wal/" + name], environment: environment)
            XCTAssertEqual(push.status, 1, push.stderr)
            assertOneLine(push, "wal-push: cannot store ")
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data()))
            let standby = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(standby.status, 1, standby.stderr)
            try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dataDirectory + "/pg_wal/RECOVERYXLOG"))
        }
    }

    /// Archives a large uncompressed segment, removes it from pg_wal, starts fetching it back
    /// and sends `signal` to the fetch once its temporary file has appeared.
    private func interruptFetch(number: Int, with signal: Int32)
        throws -> (name: String, segment: TestSegments.Segment, environment: [String: String]) {
        let name = segmentName(timeline: 1, number: number)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: 256 << 20)
        var environment = directoryEnvironment
        environment["WAL_ARCHIVE_COMPRESSION"] = "none"
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)
        try FileManager.default.removeItem(atPath: segment.path)

        let (process, _, _) = try launch("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        let sawTemporary = try waitForPartialTemporaryFile(in: dataDirectory + "/pg_wal")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        XCTAssertTrue(sawTemporary, "the fetch finished before the signal reached it")
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(process.terminationStatus, signal)
        return (name, segment, environment)
    }

    func testFetchKilledMidDownloadLeavesNoFileAndARerunSucceeds() throws {
        let (name, segment, environment) = try interruptFetch(number: 0x104, with: SIGKILL)
        let walDirectory = dataDirectory + "/pg_wal"
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))

        let rerun = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), segment.bytes)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: walDirectory).filter { $0.hasPrefix(".wal-archive-tmp.") }, [])
    }

    func testFetchStoppedBySIGTERMRemovesItsTemporaryFile() throws {
        _ = try interruptFetch(number: 0x105, with: SIGTERM)
        let walDirectory = dataDirectory + "/pg_wal"
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: walDirectory).filter { $0 != ".wal-archive" }, [])
    }
}

/// The built executables against the signature-checking local S3 server.
final class CommandLineS3Tests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        prefix = String(server.uniquePrefix("tools").dropLast())
    }

    private func environment(secret: String? = nil) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": secret ?? server.credentials.secretAccessKey,
         "WAL_ARCHIVE_RETRY_BUDGET": "5", "WAL_ARCHIVE_MAX_ATTEMPTS": "2"]
    }

    func testPushAndFetchAreIdempotentExactAndFailSafe() throws {
        let store = try S3Store(settings: server.settings())
        let name = segmentName(timeline: 1, number: 0x51)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        let key = prefix + "/" + (try FileOperations.modificationTime(segment.path).calendarDate) + "/" + name + ".zst"
        let stored = try XCTUnwrap(try store.head(key: key))
        XCTAssertEqual(stored.metadata[PayloadMetadata.sha256Name], SHA256Hasher.hash(segment.bytes).hexString)

        let again = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try store.head(key: key), stored, "the object was replaced")

        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/pg_wal/RECOVERYXLOG")), segment.bytes)

        let next = segmentName(timeline: 1, number: 0x52)
        let missing = try run("wal-fetch", [next, "pg_wal/RECOVERYXLOG"], environment: environment())
        XCTAssertEqual(missing.status, 1, missing.stderr)
        assertOneLine(missing, "wal-fetch: \(next) is not in the archive s3://\(server.bucket)")
        let history = try run("wal-fetch", ["00000002.history", "pg_wal/RECOVERYHISTORY"], environment: environment())
        XCTAssertEqual(history.status, 1, history.stderr)

        let modification = try FileOperations.modificationTime(segment.path)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", seed: 1234)
        try TestSegments.setModificationTime(segment.path, modification)
        let conflict = try run("wal-push", ["pg_wal/" + name], environment: environment())
        XCTAssertEqual(conflict.status, 4)
        assertOneLine(conflict, "wal-push: a different file is already archived as \(key)")
        XCTAssertEqual(try store.head(key: key), stored, "the object was replaced")
    }

    func testWrongCredentialsAreFatalEvenInStandby() throws {
        let name = segmentName(timeline: 1, number: 0x61)
        _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal")
        let wrong = environment(secret: "wrong-secret-key-000000000000000000000000")
        let push = try run("wal-push", ["pg_wal/" + name], environment: wrong)
        XCTAssertEqual(push.status, 1)
        assertOneLine(push, "wal-push: cannot store ")
        XCTAssertTrue(push.stderr.contains("access denied"), push.stderr)
        XCTAssertFalse(push.stderr.contains("wrong-secret"))
        for standby in [true, false] {
            if standby { XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/standby.signal", contents: Data())) }
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: wrong)
            XCTAssertEqual(fetch.status, 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: cannot fetch \(name): access denied")
            if standby { try FileManager.default.removeItem(atPath: dataDirectory + "/standby.signal") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/pg_wal").filter { $0.hasPrefix(".wal-archive-tmp") }, [])
    }

    /// A missing bucket is a broken configuration, never "the archive has no such file".
    func testAMissingBucketIsNeverNotFound() throws {
        var environment = environment()
        environment["WAL_ARCHIVE_URL"] = "s3://no-such-bucket-\(UInt32.random(in: 0...UInt32.max))/p"
        for name in [segmentName(timeline: 1, number: 0x81), "00000002.history"] {
            let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(fetch.status, 255, fetch.stderr)
            assertOneLine(fetch, "wal-fetch: cannot fetch \(name): storage refused the request: HTTP 404 NoSuchBucket")
        }
    }

    func testFetchKilledMidDownloadLeavesNoFileAndARerunSucceeds() throws {
        let name = segmentName(timeline: 1, number: 0x106)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: 128 << 20)
        var environment = environment()
        environment["WAL_ARCHIVE_COMPRESSION"] = "none"
        XCTAssertEqual(try run("wal-push", ["pg_wal/" + name], environment: environment).status, 0)
        try FileManager.default.removeItem(atPath: segment.path)
        let walDirectory = dataDirectory + "/pg_wal"
        let (process, _, _) = try launch("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        let sawTemporary = try waitForPartialTemporaryFile(in: walDirectory)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertTrue(sawTemporary, "the fetch finished before it could be killed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))
        let rerun = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: walDirectory + "/RECOVERYXLOG")), segment.bytes)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: walDirectory).filter { $0.hasPrefix(".wal-archive-tmp.") }, [])
    }
}
