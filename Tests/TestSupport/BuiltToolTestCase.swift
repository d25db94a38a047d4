import Foundation
import XCTest
import WALArchive

/// Runs the built `wal-push`/`wal-fetch` as PostgreSQL would: from a data directory, with
/// `%p` under `pg_wal/`, with only the environment given (on top of the hermetic variables).
open class BuiltToolTestCase: XCTestCase {
    public struct Result {
        public var status: Int32
        public var signaled: Bool
        public var stdout: String
        public var stderr: String
    }

    public var dataDirectory = ""
    public var archive = ""

    open override func setUpWithError() throws {
        dataDirectory = try makeTemporaryDirectory(self, "pgdata")
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal", withIntermediateDirectories: true)
        archive = try makeTemporaryDirectory(self, "archive")
    }

    public var walDirectory: String { dataDirectory + "/pg_wal" }

    public func launch(_ tool: String, _ arguments: [String], environment: [String: String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        // A built tool by name, or any program by absolute path (e.g. a wrapper such as faketime).
        process.executableURL = tool.hasPrefix("/") ? URL(fileURLWithPath: tool) : TestPaths.builtProducts.appendingPathComponent(tool)
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

    public func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let (process, output, errors) = try launch(tool, arguments, environment: environment)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    public var directoryEnvironment: [String: String] { ["WAL_ARCHIVE_URL": "file://" + archive] }

    /// The directory archive as the tools configured by `directoryEnvironment` see it.
    public var directoryStoreIdentity: StoreIdentity { StoreIdentity(backend: .directory(root: archive), prefix: "") }

    /// Gives the directory archive the identity of the test segments' system and archives
    /// segments 1…`count` of timeline 1 into it through the library; nothing is put in pg_wal.
    @discardableResult
    public func archiveTestSegments(_ count: Int, segmentSize: Int) throws -> [String: Data] {
        try TestArchives.archiveTestSegments(count, segmentSize: segmentSize, intoDirectory: archive,
                                             source: try makeTemporaryDirectory(self, "segments"))
    }

    public func assertOneLine(_ result: Result, _ prefix: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(result.stderr.hasPrefix(prefix), result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
    }

    /// The temporary files of `wal-archive` in pg_wal.
    public func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: walDirectory).filter { $0.hasPrefix(".wal-archive-tmp.") }
    }

    /// Waits, event by event, until a fetch has written part of its temporary file in pg_wal.
    /// `events` must watch pg_wal from before the fetch started.
    public func waitForPartialTemporaryFile(_ events: DirectoryEvents) throws -> Bool {
        try events.wait {
            try temporaryFiles().contains { name in
                ((try? FileManager.default.attributesOfItem(atPath: walDirectory + "/" + name)[.size] as? Int) ?? 0) > 0
            }
        }
    }
}
