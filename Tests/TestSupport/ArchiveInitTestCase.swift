import Foundation
import XCTest
import WALArchive

/// `wal-archive init`, the built executable, against any destination: the directory half runs
/// in the unit tier, the S3 half against the local S3 server.
open class ArchiveInitTestCase: BuiltToolTestCase {
    public let otherSystem: UInt64 = 7_399_999_999_999_999_999

    /// A 1 MiB segment of `system` to take the identity from, outside pg_wal.
    public func segment(of system: UInt64, number: Int = 1) throws -> String {
        let folder = try makeTemporaryDirectory(self, "init-source")
        return try TestSegments.writeSegment(name: segmentName(timeline: 1, number: number), in: folder, segmentSize: 1 << 20,
                                             systemIdentifier: system).path
    }

    /// The identity at the destination `environment` names, read through the library.
    public func readIdentity(_ environment: [String: String]) throws -> ArchiveIdentity? {
        let configuration = try Configuration.load(options: CommandLineOptions(), environment: HermeticEnvironment.merged(with: environment))
        return try ArchiveIdentityObject.read(from: configuration.destination.makeStore(), layout: configuration.layout,
                                              storeIdentity: configuration.storeIdentity)
    }

    /// Created once (exit 0, one line on stdout), the same system again (exit 0, nothing
    /// changed), another system refused (exit 4, both named, nothing changed).
    public func createOnceThenAgainThenRefuseAnother(_ environment: [String: String], url: String) throws {
        let own = try segment(of: TestSegments.systemIdentifier)
        let created = try run("wal-archive", ["init", "--wal-file", own], environment: environment)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertEqual(created.stderr, "")
        XCTAssertTrue(created.stdout.hasPrefix("wal-archive init: created \(url)/wal-archive.json"), created.stdout)
        let identity = try XCTUnwrap(try readIdentity(environment))
        XCTAssertEqual(identity.systemIdentifier, TestSegments.systemIdentifier)
        XCTAssertEqual(identity.postgresMajorVersion, 15)
        XCTAssertEqual(identity.walSegmentSize.bytes, 1 << 20)

        let again = try run("wal-archive", ["init", "--wal-file", try segment(of: TestSegments.systemIdentifier, number: 7)],
                            environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already belongs to system \(TestSegments.systemIdentifier)"), again.stdout)

        let other = try run("wal-archive", ["init", "--wal-file", try segment(of: otherSystem)], environment: environment)
        XCTAssertEqual(other.status, 4, other.stdout)
        assertOneLine(other, "wal-archive init: \(url)/wal-archive.json")
        XCTAssertTrue(other.stderr.contains("system \(TestSegments.systemIdentifier)"), other.stderr)
        XCTAssertTrue(other.stderr.contains("system \(otherSystem)"), other.stderr)
        XCTAssertEqual(try readIdentity(environment), identity, "the identity was changed")
    }
}
