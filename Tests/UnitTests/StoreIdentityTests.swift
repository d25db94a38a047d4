import XCTest
@testable import WALArchive

final class StoreIdentityTests: XCTestCase {
    private func settings(endpoint: String? = "http://127.0.0.1:9000", bucket: String = "wal", region: String = "eu-central-1",
                          accessKeyID: String = "AKID", secret: String = "secret", pathStyle: Bool = true) -> S3Settings {
        S3Settings(bucket: bucket, endpoint: endpoint, region: region,
                   credentials: .init(accessKeyID: accessKeyID, secretAccessKey: secret), pathStyle: pathStyle)
    }

    /// Every field that decides which store a request reaches changes the tag; the secret (never
    /// part of any record) and the addressing style (same store) do not.
    func testEveryFieldOfTheStoreChangesTheTagAndTheSecretDoesNot() {
        let base = StoreIdentity(destination: .s3(settings()), prefix: "pg/main")
        let changed = [
            StoreIdentity(destination: .s3(settings(endpoint: "http://127.0.0.2:9000")), prefix: "pg/main"),
            StoreIdentity(destination: .s3(settings(endpoint: nil)), prefix: "pg/main"),
            StoreIdentity(destination: .s3(settings(bucket: "wal2")), prefix: "pg/main"),
            StoreIdentity(destination: .s3(settings(region: "us-east-1")), prefix: "pg/main"),
            StoreIdentity(destination: .s3(settings(accessKeyID: "AKID2")), prefix: "pg/main"),
            StoreIdentity(destination: .s3(settings()), prefix: "pg/main2"),
            StoreIdentity(destination: .s3(settings()), prefix: ""),
            StoreIdentity(destination: .directory(root: "/mnt/wal"), prefix: "pg/main"),
        ]
        XCTAssertEqual(Set(changed.map(\.tag)).count, changed.count)
        XCTAssertFalse(changed.map(\.tag).contains(base.tag))
        XCTAssertEqual(StoreIdentity(destination: .s3(settings(secret: "other", pathStyle: false)), prefix: "pg/main").tag, base.tag)
        XCTAssertEqual(base.tag.count, 16)
    }

    func testURLsNameThePrefixAndTheEndpoint() {
        let s3 = StoreIdentity(destination: .s3(settings()), prefix: "pg/main")
        XCTAssertEqual(s3.url, "s3://wal/pg/main")
        XCTAssertEqual(s3.description, "s3://wal/pg/main at http://127.0.0.1:9000")
        XCTAssertEqual(s3.describe(key: "pg/main/wal-archive.json"), "s3://wal/pg/main/wal-archive.json at http://127.0.0.1:9000")
        XCTAssertEqual(StoreIdentity(destination: .s3(settings(endpoint: nil)), prefix: "").description,
                       "s3://wal at https://s3.eu-central-1.amazonaws.com")
        let directory = StoreIdentity(destination: .directory(root: "/mnt/wal"), prefix: "")
        XCTAssertEqual(directory.description, "file:///mnt/wal")
        XCTAssertEqual(directory.describe(key: "wal-archive.json"), "file:///mnt/wal/wal-archive.json")
        XCTAssertFalse(directory.cachesArchiveIdentity)
        XCTAssertTrue(s3.cachesArchiveIdentity)
    }
}
