import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `wal-archive init`, the built executable, on the local S3 server.
final class ArchiveInitS3Tests: ArchiveInitTestCase {
    private func s3Environment(prefix: String) throws -> [String: String] {
        let server = try LocalS3Server.shared()
        return ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
                "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey]
    }

    func testInitCreatesTheIdentityOnceAndRefusesAnotherSystemOnS3() throws {
        let server = try LocalS3Server.shared()
        let prefix = String(server.uniquePrefix("init").dropLast())
        try createOnceThenAgainThenRefuseAnother(try s3Environment(prefix: prefix), url: "s3://\(server.bucket)/\(prefix)")
    }

    /// Conditional PUT: of several inits racing with different systems, exactly one creates
    /// the identity and every other one is refused, naming it.
    func testRacingInitsOfDifferentSystemsLeaveExactlyOneIdentity() throws {
        let server = try LocalS3Server.shared()
        for round in 0..<3 {
            let environment = try s3Environment(prefix: String(server.uniquePrefix("init-race-\(round)").dropLast()))
            let systems: [UInt64] = (1...4).map { 7_300_000_000_000_000_000 + UInt64($0) }
            let sources = try systems.map { try segment(of: $0) }
            let processes = try sources.map { try launch("wal-archive", ["init", "--wal-file", $0], environment: environment) }
            var statuses: [Int32] = []
            for (process, output, errors) in processes {
                _ = output.fileHandleForReading.readDataToEndOfFile()
                _ = errors.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                statuses.append(process.terminationStatus)
            }
            XCTAssertEqual(statuses.filter { $0 == 0 }.count, 1, "\(statuses)")
            XCTAssertEqual(statuses.filter { $0 == 4 }.count, 3, "\(statuses)")
            let winner = try XCTUnwrap(statuses.firstIndex(of: 0))
            XCTAssertEqual(try readIdentity(environment)?.systemIdentifier, systems[winner])
        }
    }
}
