import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// SSE-S3, SSE-KMS and SSE-C as the server sees them: what it records with each object and
/// echoes on a HEAD of it, and, for SSE-C, that the key goes with every read too.
final class ServerSideEncryptionTests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.sharedMoto()
        prefix = server.uniquePrefix(name.filter { $0.isLetter || $0.isNumber })
    }

    /// The response headers of a HEAD signed with the server's keys and the given headers
    /// (`S3Store.head` returns only user metadata).
    private func rawHead(_ settings: S3Settings, key: String, headers: [(name: String, value: String)] = [])
        throws -> CurlClient.ResponseHead {
        let credentials = try XCTUnwrap(settings.credentials.staticKeys)
        let authority = String(settings.endpoint!.split(separator: "/").last!)
        let path = "/\(settings.bucket)/\(key)"
        let signer = SigV4Signer(credentials: credentials, region: settings.region)
        let signature = try signer.sign(.init(method: "HEAD", path: path, headers: [("host", authority)] + headers,
                                              payloadHash: SigV4Signer.emptyPayloadHash), at: UTCTime.now())
        let client = try CurlClient(lowSpeedTimeoutSeconds: 10, caBundlePath: settings.caBundlePath)
        return try client.perform(.init(method: .head, url: settings.endpoint! + signature.encodedPath,
                                        headers: [("Host", authority)] + headers + signature.addedHeaders,
                                        upload: nil, connectTimeoutMilliseconds: 5_000, timeoutMilliseconds: 10_000)).head
    }

    func testS3ManagedAndKMSEncryptionAreRequestedWithEveryUpload() throws {
        var settings = server.settings()
        settings.serverSideEncryption = .s3Managed
        XCTAssertEqual(try putBytes(S3Store(settings: settings), key: prefix + "aes", [1]), .stored)
        XCTAssertEqual(try rawHead(settings, key: prefix + "aes").headers["x-amz-server-side-encryption"], "AES256")

        settings.serverSideEncryption = .kms(keyID: "alias/wal-archive")
        XCTAssertEqual(try putBytes(S3Store(settings: settings), key: prefix + "kms", [1]), .stored)
        let kms = try rawHead(settings, key: prefix + "kms").headers
        XCTAssertEqual(kms["x-amz-server-side-encryption"], "aws:kms")
        XCTAssertEqual(kms["x-amz-server-side-encryption-aws-kms-key-id"], "alias/wal-archive")

        settings.serverSideEncryption = nil
        XCTAssertEqual(try putBytes(S3Store(settings: settings), key: prefix + "plain", [1]), .stored)
        XCTAssertNil(try rawHead(settings, key: prefix + "plain").headers["x-amz-server-side-encryption"])
    }

    func testPushedSegmentsCarryTheConfiguredEncryption() throws {
        let name = segmentName(timeline: 1, number: 0x91)
        let segment = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: 1 << 20)
        let environment = ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix.dropLast())", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
                           "AWS_REGION": server.region, "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                           "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey,
                           "WAL_ARCHIVE_SSE": "aws:kms", "WAL_ARCHIVE_SSE_KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/wal"]
        try TestArchives.initialize(environment: environment)
        let push = try run("wal-push", ["pg_wal/" + name], environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr)
        let key = prefix + (try FileOperations.modificationTime(segment.path).calendarDate) + "/" + name + ".zst"
        let head = try rawHead(server.settings(), key: key).headers
        XCTAssertEqual(head["x-amz-server-side-encryption"], "aws:kms")
        XCTAssertEqual(head["x-amz-server-side-encryption-aws-kms-key-id"], "arn:aws:kms:us-east-1:123456789012:key/wal")

        let invalid = try run("wal-push", ["pg_wal/" + name], environment: environment.merging(["WAL_ARCHIVE_SSE": "aws:kms:dsse"]) { $1 })
        XCTAssertEqual(invalid.status, 2)
        assertOneLine(invalid, "wal-push: invalid value `aws:kms:dsse` for WAL_ARCHIVE_SSE; expected AES256 or aws:kms")
    }

    /// SSE-C over HTTPS (S3 refuses it over HTTP, and the key would travel in clear): the key
    /// is needed for HEAD and GET too, and a wrong or missing key is refused.
    func testCustomerKeyGoesWithEveryPutGetAndHeadOverHTTPS() throws {
        let (tlsServer, certificate) = try LocalS3Server.startWithSelfSignedCertificate(in: try makeTemporaryDirectory(self))
        defer { tlsServer.stop() }

        let key = try XCTUnwrap(ServerSideEncryption.CustomerKey(key: (0..<32).map { UInt8($0 * 7 & 0xff) }))
        var settings = tlsServer.settings(credentials: tlsServer.credentials)
        settings.caBundlePath = certificate
        settings.serverSideEncryption = .customerKey(key)
        let store = try S3Store(settings: settings)
        XCTAssertEqual(try putBytes(store, key: prefix + "sse-c", Array("customer key".utf8), metadata: ["wal-size": "12"]), .stored)
        XCTAssertEqual(try store.head(key: prefix + "sse-c")?.metadata["wal-size"], "12")
        let sink = CollectingSink()
        try store.get(key: prefix + "sse-c", into: sink)
        XCTAssertEqual(sink.bytes, Array("customer key".utf8))
        let echoed = try rawHead(settings, key: prefix + "sse-c", headers: key.headers)
        XCTAssertEqual(echoed.status, 200)
        XCTAssertEqual(echoed.headers["x-amz-server-side-encryption-customer-algorithm"], "AES256")
        XCTAssertEqual(echoed.headers["x-amz-server-side-encryption-customer-key-md5"], key.headers[2].value)

        var withoutKey = settings
        withoutKey.serverSideEncryption = nil
        XCTAssertThrowsError(try S3Store(settings: withoutKey).get(key: prefix + "sse-c", into: CollectingSink())) { error in
            guard case .rejected(400, "InvalidRequest", _, _)? = error as? StorageError else { return XCTFail("\(error)") }
        }
        var otherKey = settings
        otherKey.serverSideEncryption = .customerKey(try XCTUnwrap(.init(key: [UInt8](repeating: 1, count: 32))))
        XCTAssertThrowsError(try S3Store(settings: otherKey).get(key: prefix + "sse-c", into: CollectingSink())) { error in
            guard case .accessDenied? = error as? StorageError else { return XCTFail("\(error)") }
        }
    }
}
