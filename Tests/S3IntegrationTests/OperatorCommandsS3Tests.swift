import Foundation
import XCTest
import TestSupport
@testable import WALArchive

/// `wal-archive check` and `status` on the local S3 server: green on a good setup, precise on
/// each broken one; the metrics file parses with the Prometheus client's own parser.
final class OperatorCommandsS3Tests: ArchiveInitTestCase {
    private var server: LocalS3Server!

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
    }

    private func s3Environment(prefix: String, secret: String? = nil, bucket: String? = nil) -> [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(bucket ?? server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
         "AWS_SECRET_ACCESS_KEY": secret ?? server.credentials.secretAccessKey, "WAL_ARCHIVE_RETRY_BUDGET": "2"]
    }

    /// A prefix with an identity (made by the built `wal-archive init`).
    private func initialisedPrefix(_ label: String) throws -> String {
        let prefix = String(server.uniquePrefix(label).dropLast())
        let created = try run("wal-archive", ["init", "--wal-file", try segment(of: TestSegments.systemIdentifier)],
                              environment: s3Environment(prefix: prefix))
        XCTAssertEqual(created.status, 0, created.stderr)
        return prefix
    }

    private func keys(_ prefix: String) throws -> [ListedObject] {
        try S3Store(settings: server.settings()).listObjects(prefix: prefix + "/", startAfter: nil, limit: 1000)
    }

    func testCheckIsGreenOnAGoodSetupAndChangesNothing() throws {
        let prefix = try initialisedPrefix("check-good")
        let before = try keys(prefix)
        let check = try run("wal-archive", ["check"], environment: s3Environment(prefix: prefix))
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("ok       reached s3://\(server.bucket)/\(prefix) at \(server.endpoint)"), check.stdout)
        XCTAssertTrue(check.stdout.contains("ok       can list"), check.stdout)
        XCTAssertTrue(check.stdout.contains("ok       can write (s3:PutObject): a conditional PUT of the existing identity was refused with 412"),
                      check.stdout)
        XCTAssertTrue(check.stdout.hasSuffix("check: all is well\n"), check.stdout)
        XCTAssertEqual(try keys(prefix), before, "check changed the archive")
    }

    func testCheckNamesAWrongKey() throws {
        let prefix = try initialisedPrefix("check-wrong-key")
        let secret = "wrongSecretKeyForTheCheckTest0000000000"
        let check = try run("wal-archive", ["check"], environment: s3Environment(prefix: prefix, secret: secret))
        XCTAssertEqual(check.status, 5, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("PROBLEM  s3://\(server.bucket)/\(prefix) at \(server.endpoint) refused the credentials"),
                      check.stdout)
        XCTAssertTrue(check.stdout.contains("check the access key, the secret and the bucket policy"), check.stdout)
        XCTAssertFalse(check.stdout.contains(secret))
    }

    func testCheckNamesAMissingBucket() throws {
        let check = try run("wal-archive", ["check"], environment: s3Environment(prefix: "p", bucket: "no-such-bucket-for-check"))
        XCTAssertEqual(check.status, 5, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("PROBLEM  the bucket of s3://no-such-bucket-for-check/p at \(server.endpoint) does not exist"),
                      check.stdout)
    }

    func testCheckNamesALocationWithoutIdentity() throws {
        let prefix = String(server.uniquePrefix("check-no-identity").dropLast())
        let check = try run("wal-archive", ["check"], environment: s3Environment(prefix: prefix))
        XCTAssertEqual(check.status, 5, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("PROBLEM  no archive identity at s3://\(server.bucket)/\(prefix)/wal-archive.json"), check.stdout)
        XCTAssertTrue(check.stdout.contains("run `wal-archive init -D DATADIR`"), check.stdout)
        XCTAssertEqual(try keys(prefix), [], "check wrote something")
    }

    func testStatusMetricsParseWithThePrometheusClient() throws {
        let prefix = try initialisedPrefix("status-metrics")
        let scenarios = try ArchiveOperationsScenarios(test: self, destination: .s3(server.settings()), prefix: prefix)
        try scenarios.buildArchive()
        let metrics = dataDirectory + "/wal_archive.prom"
        let status = try run("wal-archive", ["status", "--prometheus", metrics], environment: s3Environment(prefix: prefix))
        XCTAssertEqual(status.status, 0, status.stderr)
        let parse = Process()
        parse.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        parse.arguments = ["python3", "-c", """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for sample in family.samples:
                    print(family.type, sample.name, sample.labels["archive"], int(sample.value))
            """, metrics]
        let output = Pipe()
        parse.standardOutput = output
        try parse.run()
        let parsed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        parse.waitUntilExit()
        XCTAssertEqual(parse.terminationStatus, 0, "python3 with prometheus_client (pip install prometheus_client): \(parsed)")
        let url = "s3://\(server.bucket)/\(prefix)"
        for expected in ["gauge wal_archive_up \(url) 1", "gauge wal_archive_segments \(url) 12",
                         "gauge wal_archive_base_backups \(url) 2", "gauge wal_archive_missing_segments \(url) 0",
                         "gauge wal_archive_timeline \(url) 2"] {
            XCTAssertTrue(parsed.contains(expected + "\n"), "\(expected) not in:\n\(parsed)")
        }
        for name in ["wal_archive_newest_segment_timestamp_seconds", "wal_archive_oldest_segment_timestamp_seconds",
                     "wal_archive_status_timestamp_seconds", "wal_archive_stored_bytes"] {
            XCTAssertTrue(parsed.contains("gauge \(name) \(url) "), "\(name) not in:\n\(parsed)")
        }
    }
}
