import Foundation
import XCTest
import WALArchive

/// Archives as `wal-archive init` leaves them, for tests: every `wal-push` and `wal-fetch`
/// needs the archive identity.
public enum TestArchives {
    /// The identity of the system the test segments come from (`TestSegments.systemIdentifier`).
    public static let identity = ArchiveIdentity(systemIdentifier: TestSegments.systemIdentifier, postgresMajorVersion: 15,
                                                 walSegmentSize: .postgresDefault, created: "2026-01-01T00:00:00Z")

    /// Runs `wal-archive init --wal-file` (in-process) against the destination `environment`
    /// names, for `systemIdentifier`'s system; fails the test unless it exits 0.
    public static func initialize(environment: [String: String], systemIdentifier: UInt64 = TestSegments.systemIdentifier,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = TestPaths.scratch.appendingPathComponent("init-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let segment = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 1), in: folder, segmentSize: 1 << 20,
                                                    systemIdentifier: systemIdentifier)
        let status = OperatorCommand.run(arguments: ["init", "--wal-file", segment.path],
                                         environment: HermeticEnvironment.merged(with: environment))
        XCTAssertEqual(status, 0, "wal-archive init failed", file: file, line: line)
    }

    /// Writes `identity` into the archive through the library.
    public static func create(_ identity: ArchiveIdentity = TestArchives.identity, in store: any ObjectStore,
                              storeIdentity: StoreIdentity) throws {
        let outcome = try ArchiveIdentityObject.create(identity, in: store, layout: StorageLayout(prefix: storeIdentity.prefix),
                                                       storeIdentity: storeIdentity)
        XCTAssertEqual(outcome, .created)
    }

    /// Gives the directory archive at `root` the test segments' identity and archives segments
    /// 1…`count` of timeline 1 into it through the library, writing them in `source` first;
    /// their bytes by name.
    public static func archiveTestSegments(_ count: Int, segmentSize: Int, intoDirectory root: String,
                                           source: String) throws -> [String: Data] {
        let store = DirectoryStore(root: root)
        let storeIdentity = StoreIdentity(destination: .directory(root: root), prefix: "")
        try create(in: store, storeIdentity: storeIdentity)
        let pusher = ArchiveOperation(store: store, storeIdentity: storeIdentity, archiveIdentity: identity)
        var segments: [String: Data] = [:]
        for number in 1...count {
            let name = segmentName(timeline: 1, number: number)
            let segment = try TestSegments.writeSegment(name: name, in: source, segmentSize: segmentSize)
            _ = try pusher.archive(path: segment.path)
            segments[name] = segment.bytes
        }
        return segments
    }
}
