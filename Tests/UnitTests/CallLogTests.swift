import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `log = info`: one logfmt line per call of the built `wal-push` and `wal-fetch`; silence on
/// success by default.
final class CallLogTests: BuiltToolTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try TestArchives.initialize(environment: directoryEnvironment)
    }

    /// The fields of the one logfmt line in `stderr` that starts with `tool=`.
    private func logLine(_ stderr: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("tool=") }
        XCTAssertEqual(lines.count, 1, stderr, file: file, line: line)
        return try XCTUnwrap(Self.parseLogfmt(String(try XCTUnwrap(lines.first))), stderr)
    }

    /// key=value pairs; a value in double quotes may hold spaces and \" \\ \n escapes.
    static func parseLogfmt(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        var characters = Array(text)[...]
        while !characters.isEmpty {
            while characters.first == " " { characters = characters.dropFirst() }
            guard let equals = characters.firstIndex(of: "=") else { return characters.isEmpty ? fields : nil }
            let key = String(characters[..<equals])
            characters = characters[(equals + 1)...]
            var value = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                while let next = characters.first, next != "\"" {
                    characters = characters.dropFirst()
                    if next == "\\", let escaped = characters.first {
                        characters = characters.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(next)
                    }
                }
                guard characters.first == "\"" else { return nil }
                characters = characters.dropFirst()
            } else {
                while let next = characters.first, next != " " {
                    value.append(next)
                    characters = characters.dropFirst()
                }
            }
            guard fields.updateValue(value, forKey: key) == nil else { return nil }
        }
        return fields
    }

    func testSilentOnSuccessByDefault() throws {
        let name = segmentName(timeline: 1, number: 0x30)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory)
        let push = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment)
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(push.stdout + push.stderr, "")
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: directoryEnvironment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        XCTAssertEqual(fetch.stdout + fetch.stderr, "")
    }

    func testInfoWritesOneLogfmtLinePerCall() throws {
        let name = segmentName(timeline: 1, number: 0x31)
        _ = try TestSegments.writeSegment(name: name, in: walDirectory)
        let info = directoryEnvironment.merging(["WAL_ARCHIVE_LOG": "info", "WAL_ARCHIVE_PUSH_AHEAD": "0"]) { $1 }
        let push = try run("wal-push", ["pg_wal/" + name], environment: info)
        XCTAssertEqual(push.status, 0, push.stderr)
        let stored = try logLine(push.stderr)
        XCTAssertEqual(stored["tool"], "wal-push")
        XCTAssertEqual(stored["file"], name)
        XCTAssertEqual(stored["result"], "stored")
        XCTAssertTrue(stored["key"]?.hasSuffix("/" + name + ".zst") ?? false, push.stderr)
        XCTAssertEqual(stored["bytes"], String(16 << 20))
        let storedBytes = try XCTUnwrap(Int(stored["stored_bytes"] ?? ""), push.stderr)
        XCTAssertTrue(storedBytes > 0 && storedBytes < 16 << 20, push.stderr)
        XCTAssertEqual(stored["requests"], "2", "the name's claim and the data")
        XCTAssertEqual(stored["attempts"], "2")
        XCTAssertNotNil(Int(stored["duration_ms"] ?? ""), push.stderr)
        XCTAssertEqual(push.stdout, "")

        let again = try logLine(try run("wal-push", ["pg_wal/" + name], environment: info).stderr)
        XCTAssertEqual(again["result"], "already_archived")
        XCTAssertEqual(again["requests"], "3", "the claim refused, HEAD of the claim and of the data")

        // The config file's `log = info` does the same for wal-fetch.
        let config = dataDirectory + "/wal-archive.conf"
        try "url = file://\(archive)\nlog = info\n".write(toFile: config, atomically: true, encoding: .utf8)
        let fetch = try run("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment: ["WAL_ARCHIVE_CONFIG": config])
        XCTAssertEqual(fetch.status, 0, fetch.stderr)
        let restored = try logLine(fetch.stderr)
        XCTAssertEqual(restored["tool"], "wal-fetch")
        XCTAssertEqual(restored["result"], "restored")
        XCTAssertEqual(restored["bytes"], String(16 << 20))
        XCTAssertEqual(restored["stored_bytes"], String(storedBytes))
        XCTAssertEqual(restored["key"], stored["key"])

        let missing = try run("wal-fetch", [segmentName(timeline: 1, number: 0x99), "pg_wal/RECOVERYXLOG"],
                              environment: ["WAL_ARCHIVE_CONFIG": config])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(try logLine(missing.stderr)["result"], "not_found")
        XCTAssertEqual(try logLine(missing.stderr)["exit"], "1")
        XCTAssertTrue(missing.stderr.contains("wal-fetch: "), "the human line stays: \(missing.stderr)")
    }

    func testFailureLineCarriesTheExitCodeAndTheQuotedMessage() throws {
        let name = segmentName(timeline: 1, number: 0x32)
        try Data(repeating: 0, count: 100).write(to: URL(fileURLWithPath: walDirectory + "/" + name))
        let push = try run("wal-push", ["pg_wal/" + name], environment: directoryEnvironment.merging(["WAL_ARCHIVE_LOG": "info"]) { $1 })
        XCTAssertEqual(push.status, 3)
        let failed = try logLine(push.stderr)
        XCTAssertEqual(failed["result"], "failed")
        XCTAssertEqual(failed["exit"], "3")
        XCTAssertTrue(failed["error"]?.contains("starts with zeros instead of a WAL page header") ?? false, push.stderr)
        XCTAssertEqual(Self.parseLogfmt("k=" + CallLog.value("a \"b\"\\c\nd")), ["k": "a \"b\"\\c\nd"])
    }

    func testAnUnknownLevelIsAConfigurationError() throws {
        let push = try run("wal-push", ["pg_wal/" + segmentName(timeline: 1, number: 1)],
                           environment: directoryEnvironment.merging(["WAL_ARCHIVE_LOG": "debug"]) { $1 })
        XCTAssertEqual(push.status, 2)
        assertOneLine(push, "wal-push: invalid value `debug` for WAL_ARCHIVE_LOG; expected error or info")
    }
}
