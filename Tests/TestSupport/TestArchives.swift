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
}
