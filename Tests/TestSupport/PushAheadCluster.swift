import Foundation
import XCTest
import WALArchive

/// A data directory whose `pg_wal` holds WAL segments marked `.ready`, as PostgreSQL leaves
/// them for `archive_command`, and the environment its `wal-push` runs with.
public struct PushAheadCluster {
    /// 1 MiB segments (a size PostgreSQL allows) keep the tests quick.
    public static let segmentSize = 1 << 20

    public var dataDirectory: String
    public var environment: [String: String]
    public var walDirectory: String { dataDirectory + "/pg_wal" }
    public var recordDirectory: String { walDirectory + "/.wal-archive/pushed" }

    public func path(_ number: Int) -> String { walDirectory + "/" + segmentName(timeline: 1, number: number) }

    /// The push-ahead records present, by name.
    public func records() throws -> [String] {
        guard FileManager.default.fileExists(atPath: recordDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: recordDirectory).sorted()
    }

    public func configuration() throws -> Configuration {
        try Configuration.load(options: CommandLineOptions(), environment: environment)
    }

    /// Segments 1…`count` of timeline 1 in `pg_wal`, each marked `.ready`; `environment` on
    /// top of the hermetic variables.
    public static func make(_ test: XCTestCase, count: Int, environment: [String: String]) throws -> PushAheadCluster {
        let dataDirectory = try makeTemporaryDirectory(test, "pushahead-pgdata")
        try FileManager.default.createDirectory(atPath: dataDirectory + "/pg_wal/archive_status", withIntermediateDirectories: true)
        for number in 1...count {
            let name = segmentName(timeline: 1, number: number)
            _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: segmentSize)
            XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/pg_wal/archive_status/\(name).ready", contents: Data()))
        }
        return PushAheadCluster(dataDirectory: dataDirectory, environment: HermeticEnvironment.merged(with: environment))
    }
}
