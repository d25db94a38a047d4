import Foundation
import XCTest
import TestSupport

/// libcurl (and the 29 libraries it pulls in) is loaded by the first S3 request, not at every
/// start-up: the built tools are run under the dynamic linker's own trace (`LD_DEBUG=files`,
/// one `file=<soname>` line per shared object it loads, at start-up or by dlopen).
final class LibcurlLoadingTests: BuiltToolTestCase {
    /// An S3 archive on a port nothing listens on: the call loads libcurl, then fails to connect.
    private var unreachableS3Environment: [String: String] {
        ["WAL_ARCHIVE_URL": "s3://bucket/prefix", "WAL_ARCHIVE_ENDPOINT": "http://127.0.0.1:9", "AWS_REGION": "us-east-1",
         "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "WAL_ARCHIVE_RETRY_BUDGET": "1"]
    }

    /// One load in the trace: the shared object's name and why ("needed by <object>" at
    /// start-up, or "dynamically loaded by <object>" for a dlopen).
    private struct Load: CustomStringConvertible {
        var name: String
        var reason: String
        var description: String { "\(name) (\(reason))" }
    }

    private func tracedLoads(_ tool: String, _ arguments: [String], environment: [String: String]) throws -> (Result, [Load]) {
        let result = try run(tool, arguments, environment: environment.merging(["LD_DEBUG": "files"]) { $1 })
        // "<pid>:\tfile=libcurl.so.4 [0];  dynamically loaded by /…/wal-fetch [0]"; the same
        // file's "generating link map" line and "opening file=" lines are not loads.
        let loads = result.stderr.split(separator: "\n").compactMap { line -> Load? in
            guard let start = line.range(of: "\tfile="), let end = line.range(of: ";  ", range: start.upperBound..<line.endIndex),
                  case let reason = String(line[end.upperBound...]), reason.contains(" by ") else { return nil }
            return Load(name: String(line[start.upperBound..<end.lowerBound].prefix { $0 != " " }), reason: reason)
        }
        return (result, loads)
    }

    func testCallsThatNeverReachS3NeverLoadLibcurl() throws {
        try archiveTestSegments(1, segmentSize: 1 << 20)
        let pushed = segmentName(timeline: 1, number: 2)
        _ = try TestSegments.writeSegment(name: pushed, in: walDirectory, segmentSize: 1 << 20)
        let calls: [(String, [String], [String: String])] = [
            ("wal-fetch", ["--version"], [:]),
            ("wal-push", ["--help"], [:]),
            ("wal-fetch", [segmentName(timeline: 1, number: 1), "pg_wal/RECOVERYXLOG"], directoryEnvironment),
            ("wal-push", ["pg_wal/" + pushed], directoryEnvironment),
        ]
        for (tool, arguments, environment) in calls {
            let (result, loaded) = try tracedLoads(tool, arguments, environment: environment)
            XCTAssertEqual(result.status, 0, "\(tool) \(arguments): \(result.stderr.suffix(2000))")
            XCTAssertTrue(loaded.contains { $0.name == "libcrypto.so.3" }, "the trace lists what is loaded: \(loaded)")
            XCTAssertFalse(loaded.contains { $0.name.hasPrefix("libcurl") || $0.name.hasPrefix("libnghttp2") },
                           "\(tool) \(arguments) loaded \(loaded)")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: walDirectory + "/RECOVERYXLOG")?.count, 1 << 20)
    }

    func testTheFirstS3RequestLoadsLibcurlOnce() throws {
        let (result, loaded) = try tracedLoads("wal-fetch", [segmentName(timeline: 1, number: 1), "pg_wal/RECOVERYXLOG"],
                                               environment: unreachableS3Environment)
        XCTAssertEqual(result.status, 255, result.stderr.suffix(2000).description)
        let libcurl = loaded.filter { $0.name == "libcurl.so.4" }
        XCTAssertEqual(libcurl.count, 1, "\(loaded)")
        XCTAssertTrue(libcurl.first?.reason.hasPrefix("dynamically loaded by ") ?? false, "not at start-up: \(libcurl)")
        XCTAssertTrue(loaded.contains { $0.name == "libnghttp2.so.14" && $0.reason.contains("libcurl.so.4") },
                      "libcurl's own dependencies come with it: \(loaded)")
    }

    /// As an operator's machine without libcurl4: a mount namespace where libcurl.so.4 is
    /// /dev/null (root only; the unit tier runs as root in CI).
    func testWithoutLibcurlAnS3CallFailsWithOneLineNamingThePackage() throws {
        guard geteuid() == 0 else { throw XCTSkip("hiding libcurl in a mount namespace needs root") }
        let libcurl = try XCTUnwrap(Self.installedLibcurl(), "ldconfig does not know libcurl.so.4")
        let hidden = "mount --bind /dev/null \"$0\" && exec \"$@\""
        func runHidden(_ tool: String, _ arguments: [String]) throws -> Result {
            try run("/usr/bin/unshare", ["--mount", "/bin/sh", "-c", hidden, libcurl, TestPaths.builtProducts.path + "/" + tool]
                        + arguments, environment: unreachableS3Environment)
        }
        let fetch = try runHidden("wal-fetch", [segmentName(timeline: 1, number: 1), "pg_wal/RECOVERYXLOG"])
        XCTAssertEqual(fetch.status, 255)
        XCTAssertFalse(fetch.signaled)
        assertOneLine(fetch, "wal-fetch: ")
        XCTAssertTrue(fetch.stderr.contains("libcurl.so.4 cannot be loaded"), fetch.stderr)
        XCTAssertTrue(fetch.stderr.contains("install the package libcurl4"), fetch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"))

        let name = segmentName(timeline: 1, number: 1)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20)
        let push = try runHidden("wal-push", ["pg_wal/" + name])
        XCTAssertNotEqual(push.status, 0)
        XCTAssertFalse(push.signaled)
        assertOneLine(push, "wal-push: ")
        XCTAssertTrue(push.stderr.contains("libcurl.so.4 cannot be loaded"), push.stderr)
        XCTAssertTrue(push.stderr.contains("install the package libcurl4"), push.stderr)
    }

    /// The file the dynamic linker would open for libcurl.so.4, as `ldconfig -p` lists it.
    private static func installedLibcurl() throws -> String? {
        let ldconfig = Process()
        ldconfig.executableURL = URL(fileURLWithPath: "/sbin/ldconfig")
        ldconfig.arguments = ["-p"]
        let output = Pipe()
        ldconfig.standardOutput = output
        try ldconfig.run()
        let listing = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldconfig.waitUntilExit()
        let line = listing.split(separator: "\n").first { $0.contains("libcurl.so.4 (") && $0.contains("x86-64") }
        return line.flatMap { $0.components(separatedBy: " => ").last }.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
    }
}
