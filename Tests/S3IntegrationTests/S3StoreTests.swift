import Foundation
import Glibc
import TestSupport
import XCTest
@testable import WALArchive

/// `S3Store` against the local moto server, which checks every request's signature.
final class S3StoreTests: XCTestCase {
    private var server: LocalS3Server!
    private var prefix = ""

    override func setUpWithError() throws {
        server = try LocalS3Server.shared()
        prefix = server.uniquePrefix(name.filter { $0.isLetter || $0.isNumber })
    }

    private func makeStore(_ settings: S3Settings? = nil) throws -> S3Store {
        try S3Store(settings: settings ?? server.settings())
    }

    func testServerRefusesARequestSignedWithTheWrongSecret() throws {
        let wrong = S3Settings.Credentials(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "not-the-secret")
        let store = try makeStore(server.settings(credentials: wrong))
        let attempts: [() throws -> Void] = [
            { _ = try store.list(prefix: self.prefix, delimiter: nil, startAfter: nil, limit: 10) },
            { _ = try store.head(key: self.prefix + "k") },
            { _ = try putBytes(store, key: self.prefix + "k", [1, 2, 3]) },
        ]
        for attempt in attempts {
            XCTAssertThrowsError(try attempt()) { error in
                guard case .accessDenied(let detail)? = error as? StorageError else {
                    return XCTFail("expected accessDenied, got \(error)")
                }
                XCTAssertTrue(detail.contains("403"), detail)
                XCTAssertFalse(detail.contains("not-the-secret"), detail)
                XCTAssertFalse(detail.contains(self.server.credentials.secretAccessKey), detail)
            }
        }
        XCTAssertNil(try makeStore().head(key: prefix + "k"), "the refused PUT must not have stored anything")
    }

    func testRoundTripsLargeObjectsWithKeysNeedingEncoding() throws {
        let store = try makeStore()
        var generator = SystemRandomNumberGenerator()
        let body = (0..<(16 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
        let keys = [prefix + "2026-01-01/000000010000000000000001.zst",
                    prefix + "odd/sp ace+plus%percent=eq&amp",
                    prefix + "odd/ünïcødé/🐘 ~tilde!*'()"]
        for (index, key) in keys.enumerated() {
            var variant = body
            variant[index] ^= 0xff
            let metadata = ["wal-sha256": SHA256Hasher.hash(variant).hexString, "wal-compression": "zstd",
                            "wal-size": String(variant.count)]
            XCTAssertEqual(try putBytes(store, key: key, variant, metadata: metadata), .stored)

            let sink = CollectingSink()
            let info = try store.get(key: key, into: sink)
            XCTAssertEqual(sink.attempts, 1)
            XCTAssertEqual(sink.bytes.count, variant.count, key)
            XCTAssertEqual(SHA256Hasher.hash(sink.bytes).hexString, metadata["wal-sha256"], key)
            XCTAssertEqual(info.size, Int64(variant.count))
            XCTAssertEqual(info.metadata, metadata)
            XCTAssertEqual(sink.info, info)

            let head = try XCTUnwrap(try store.head(key: key))
            XCTAssertEqual(head.size, Int64(variant.count))
            XCTAssertEqual(head.metadata, metadata)
            XCTAssertEqual(head.etag, info.etag)
        }
        XCTAssertEqual(try store.list(prefix: prefix, delimiter: nil, startAfter: nil, limit: 100).keys, keys.sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        })
        XCTAssertEqual(try store.list(prefix: prefix + "odd/sp ace+", delimiter: nil, startAfter: nil, limit: 10).keys, [keys[1]])
        for key in keys {
            try store.delete(key: key)
            XCTAssertNil(try store.head(key: key))
        }
        XCTAssertEqual(try store.list(prefix: prefix, delimiter: nil, startAfter: nil, limit: 100), ObjectListing())
    }

    func testIfAbsentKeepsTheExistingObject() throws {
        let store = try makeStore()
        let key = prefix + "00000002.history"
        XCTAssertEqual(try putBytes(store, key: key, Array("first".utf8), metadata: ["wal-size": "5"], ifAbsent: true), .stored)
        XCTAssertEqual(try putBytes(store, key: key, Array("second!".utf8), metadata: ["wal-size": "7"], ifAbsent: true),
                       .alreadyExists)
        let sink = CollectingSink()
        let info = try store.get(key: key, into: sink)
        XCTAssertEqual(sink.bytes, Array("first".utf8))
        XCTAssertEqual(info.metadata, ["wal-size": "5"])
        XCTAssertEqual(try putBytes(store, key: key, Array("third".utf8)), .stored, "without ifAbsent the object is replaced")
        try store.get(key: key, into: sink)
        XCTAssertEqual(sink.bytes, Array("third".utf8))
    }

    func testListingWithDelimiterStartAfterAndPages() throws {
        let store = try makeStore()
        let keys = ["2026-01-01/A", "2026-01-01/B", "2026-01-01/C", "2026-01-02/D", "2026-01-03/E", "2026-01-03/F", "x"]
            .map { prefix + $0 }
        for key in keys { try putBytes(store, key: key, Array(key.utf8)) }

        let partitions = try store.list(prefix: prefix, delimiter: "/", startAfter: nil, limit: 100)
        XCTAssertEqual(partitions.commonPrefixes, ["2026-01-01/", "2026-01-02/", "2026-01-03/"].map { prefix + $0 })
        XCTAssertEqual(partitions.keys, [prefix + "x"])

        let after = try store.list(prefix: prefix + "2026-01-01/", delimiter: nil, startAfter: prefix + "2026-01-01/A", limit: 4)
        XCTAssertEqual(after.keys, [prefix + "2026-01-01/B", prefix + "2026-01-01/C"])

        store.listPageSize = 2
        XCTAssertEqual(try store.list(prefix: prefix, delimiter: nil, startAfter: nil, limit: 100).keys, keys)
        XCTAssertEqual(try store.list(prefix: prefix, delimiter: nil, startAfter: prefix + "2026-01-01/B", limit: 3).keys,
                       Array(keys[2..<5]))
        let pagedPartitions = try store.list(prefix: prefix, delimiter: "/", startAfter: nil, limit: 100)
        XCTAssertEqual(pagedPartitions, partitions)
    }

    /// libcurl resolves every `*.localhost` name to the loopback address, so the bucket can
    /// travel in the host name as on AWS.
    func testVirtualHostedStyleAddressing() throws {
        var settings = server.settings(endpoint: server.endpoint.replacingOccurrences(of: "127.0.0.1", with: "localhost"))
        settings.pathStyle = false
        let store = try makeStore(settings)
        let key = prefix + "virtual host/ü"
        XCTAssertEqual(try putBytes(store, key: key, Array("hosted".utf8), metadata: ["wal-size": "6"]), .stored)
        let pathStyle = try makeStore()
        let sink = CollectingSink()
        try pathStyle.get(key: key, into: sink)
        XCTAssertEqual(sink.bytes, Array("hosted".utf8))
        XCTAssertEqual(try store.list(prefix: prefix, delimiter: nil, startAfter: nil, limit: 10).keys, [key])
        XCTAssertEqual(try store.head(key: key)?.metadata, ["wal-size": "6"])
    }

    /// TLS verification is always on: a self-signed certificate is refused at once (no
    /// retries), and accepted when given as the CA bundle.
    func testHTTPSVerifiesTheServerCertificate() throws {
        let (tlsServer, certificate) = try LocalS3Server.startWithSelfSignedCertificate(in: try makeTemporaryDirectory(self))
        defer { tlsServer.stop() }
        XCTAssertTrue(tlsServer.endpoint.hasPrefix("https://"))

        let untrusting = try makeStore(tlsServer.settings(retryBudgetSeconds: 30, maxAttempts: 5))
        let start = Date()
        XCTAssertThrowsError(try untrusting.head(key: prefix + "k")) { error in
            guard case .unavailable(let detail)? = error as? StorageError else {
                return XCTFail("expected unavailable, got \(error)")
            }
            XCTAssertTrue(detail.lowercased().contains("certificate"), detail)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "an untrusted certificate is not retried")

        var settings = tlsServer.settings()
        settings.caBundlePath = certificate
        let trusting = try makeStore(settings)
        XCTAssertEqual(try putBytes(trusting, key: prefix + "k", Array("over tls".utf8)), .stored)
        let sink = CollectingSink()
        try trusting.get(key: prefix + "k", into: sink)
        XCTAssertEqual(sink.bytes, Array("over tls".utf8))
    }

    func testMissingObjects() throws {
        let store = try makeStore()
        XCTAssertThrowsError(try store.get(key: prefix + "missing", into: CollectingSink())) {
            XCTAssertEqual($0 as? StorageError, .notFound(key: prefix + "missing"))
        }
        XCTAssertNil(try store.head(key: prefix + "missing"))
        XCTAssertNoThrow(try store.delete(key: prefix + "missing"))

        try putBytes(store, key: prefix + "empty", [])
        let sink = CollectingSink()
        let info = try store.get(key: prefix + "empty", into: sink)
        XCTAssertEqual(sink.attempts, 1, "begin runs even when no byte arrives")
        XCTAssertEqual(info.size, 0)
        XCTAssertEqual(sink.bytes, [])
    }

    func testMissingBucketIsNotMistakenForAMissingObject() throws {
        var settings = server.settings()
        settings.bucket = "no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())"
        let store = try makeStore(settings)
        XCTAssertThrowsError(try store.get(key: "k", into: CollectingSink())) { error in
            guard case .rejected(404, "NoSuchBucket", _, _)? = error as? StorageError else {
                return XCTFail("expected rejected NoSuchBucket, got \(error)")
            }
        }
    }

    func testBodyNotMatchingItsSignedChecksumIsRefused() throws {
        let store = try makeStore()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("s3-checksum-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("actual bytes".utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        let request = PutRequest(key: prefix + "k", fileDescriptor: descriptor, length: 12,
                                 sha256Hex: SHA256Hasher.hash("other bytes!".utf8).hexString)
        XCTAssertThrowsError(try store.put(request)) { error in
            guard case .rejected(400, "XAmzContentSHA256Mismatch", _, _)? = error as? StorageError else {
                return XCTFail("expected XAmzContentSHA256Mismatch, got \(error)")
            }
        }
        XCTAssertNil(try store.head(key: prefix + "k"))
    }

    func testADeadEndpointIsRetriedUntilTheTimeBudgetEndsNotUpToTheAttemptCap() throws {
        // A port nothing listens on: bound, then released.
        let (probe, port) = try LoopbackSocket.bind()
        close(probe)
        XCTAssertNotEqual(port, 0)
        let store = try makeStore(server.settings(endpoint: "http://127.0.0.1:\(port)", connectTimeoutSeconds: 1,
                                                  retryBudgetSeconds: 2, maxAttempts: 20))
        XCTAssertThrowsError(try store.head(key: prefix + "k")) { error in
            guard case .unavailable(let detail)? = error as? StorageError else {
                return XCTFail("expected unavailable, got \(error)")
            }
            XCTAssertTrue(detail.contains("127.0.0.1"), detail)
        }
        // A refused connection fails at once, so only the budget can have ended the retries
        // before the cap of 20 attempts: backoff from 0.1 s doubling fits about 5 into 2 s.
        XCTAssertGreaterThan(store.attempts, 1, "a refused connection is retried")
        XCTAssertLessThan(store.attempts, 20, "the time budget, not the attempt cap, ended the retries")
    }

    func testTruncatedPageWithoutTokenResumesAfterItsLastEntry() throws {
        let keysOnly = try ListObjectsPage(xml: Array("""
            <ListBucketResult><Contents><Key>p/a</Key></Contents><Contents><Key>p/b</Key></Contents>
            <IsTruncated>true</IsTruncated></ListBucketResult>
            """.utf8))
        XCTAssertNil(keysOnly.nextContinuationToken)
        XCTAssertEqual(S3Store.resumePoint(after: keysOnly), "p/b")
        let endsWithPrefix = try ListObjectsPage(xml: Array("""
            <ListBucketResult><Contents><Key>p/a</Key></Contents><CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>
            <IsTruncated>true</IsTruncated></ListBucketResult>
            """.utf8))
        let next = try XCTUnwrap(S3Store.resumePoint(after: endsWithPrefix))
        for key in ["p/d/", "p/d/0", "p/d/\u{10FFFE}"] {
            XCTAssertFalse(Array(next.utf8).lexicographicallyPrecedes(Array(key.utf8)), "\(key) would come back")
        }
        XCTAssertTrue(Array(next.utf8).lexicographicallyPrecedes(Array("p/e".utf8)))
        XCTAssertNil(S3Store.resumePoint(after: try ListObjectsPage(xml: Array("<ListBucketResult/>".utf8))))
    }

    /// A transfer that breaks off is retried, and the sink starts over; throttling is retried;
    /// a plain 4xx is not.
    func testRetriesRestartTheSinkAndStopAtFinalAnswers() throws {
        let body = "0123456789abcdef"
        func answer(_ status: String, _ body: String, declaredLength: Int? = nil) -> String {
            "HTTP/1.1 \(status)\r\nContent-Length: \(declaredLength ?? body.utf8.count)\r\nx-amz-meta-wal-size: 16\r\n\r\n"
                + body
        }
        let scripted = try ScriptedHTTPServer(responses: [
            answer("503 Slow Down", "<Error><Code>SlowDown</Code><Message>Reduce</Message><RequestId>1</RequestId></Error>"),
            answer("200 OK", String(body.prefix(7)), declaredLength: 16),
            answer("200 OK", body),
            answer("400 Bad Request", "<Error><Code>InvalidArgument</Code><Message>no</Message><RequestId>R9</RequestId></Error>"),
        ])
        let store = try makeStore(server.settings(endpoint: "http://127.0.0.1:\(scripted.port)", retryBudgetSeconds: 30,
                                                  maxAttempts: 5))
        let sink = CollectingSink()
        let info = try store.get(key: "k", into: sink)
        XCTAssertEqual(String(decoding: sink.bytes, as: UTF8.self), body)
        XCTAssertEqual(sink.attempts, 2, "begin runs again for the retried transfer")
        XCTAssertEqual(info.metadata, ["wal-size": "16"])
        XCTAssertThrowsError(try store.list(prefix: "k", delimiter: nil, startAfter: nil, limit: 1)) { error in
            XCTAssertEqual(error as? StorageError, .rejected(status: 400, code: "InvalidArgument", message: "no", requestID: "R9"))
        }
        XCTAssertEqual(scripted.requestsServed, 4)
    }

    /// A refusal names the store's request id when the store sent one (in the XML body or the
    /// `x-amz-request-id` header), and prints no empty `(request id )` when it sent none.
    func testRefusalsNameTheRequestIDOnlyWhenTheStoreSentOne() throws {
        let scripted = try ScriptedHTTPServer(responses: [
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 403 Forbidden\r\nx-amz-request-id: H7\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        ])
        let store = try makeStore(server.settings(endpoint: "http://127.0.0.1:\(scripted.port)", maxAttempts: 1))
        var messages: [String] = []
        for _ in 0..<3 {
            XCTAssertThrowsError(try store.list(prefix: "p/", delimiter: nil, startAfter: nil, limit: 1)) { error in
                messages.append((error as? StorageError)?.message ?? "\(error)")
            }
        }
        XCTAssertEqual(messages.count, 3)
        XCTAssertTrue(messages.allSatisfy { !$0.contains("request id )") && !$0.contains("request id  ") }, "\(messages)")
        XCTAssertFalse(messages[0].contains("request id"), messages[0])
        XCTAssertTrue(messages[0].hasPrefix("access denied: "), messages[0])
        XCTAssertTrue(messages[1].hasSuffix("(request id H7)"), messages[1])
        XCTAssertEqual(messages[2], "storage refused the request: HTTP 400")
    }

    func testXMLAnswersAreDecoded() throws {
        let listing = Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
            <Contents><Key>a &amp; b&lt;c&gt;&quot;&apos;&#233;&#x1F418;</Key><Size>1</Size></Contents>
            <Contents><Key><![CDATA[raw & <cdata>]]></Key></Contents>
            <CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><IsTruncated>true</IsTruncated>
            <NextContinuationToken>tok+/=</NextContinuationToken><Empty/></ListBucketResult>
            """.utf8)
        let page = try ListObjectsPage(xml: listing)
        XCTAssertEqual(page.keys, ["a & b<c>\"'é🐘", "raw & <cdata>"])
        XCTAssertEqual(page.commonPrefixes, ["p/"])
        XCTAssertTrue(page.isTruncated)
        XCTAssertEqual(page.nextContinuationToken, "tok+/=")
        XCTAssertThrowsError(try ListObjectsPage(xml: Array("<ListBucketResult><Key>x</ListBucketResult>".utf8)))
        XCTAssertThrowsError(try ListObjectsPage(xml: Array("<Error><Code>x</Code></Error>".utf8)))

        let error = S3ErrorBody(xml: Array("""
            <?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>The key &quot;k&quot; does not exist</Message>
            <RequestId>R1</RequestId></Error>
            """.utf8))
        XCTAssertEqual(error.code, "NoSuchKey")
        XCTAssertEqual(error.message, "The key \"k\" does not exist")
        XCTAssertEqual(error.requestID, "R1")
    }
}

/// Answers each connection with the next canned response, then closes it: a server that
/// misbehaves on cue, for the retry logic.
private final class ScriptedHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let lock = NSLock()
    private var served = 0

    var requestsServed: Int { lock.withLock { served } }

    init(responses: [String]) throws {
        let (listener, port) = try LoopbackSocket.bind(listening: 8)
        self.port = port
        Thread.detachNewThread { [self] in
            for response in responses {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                var request: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !request.suffix(4).elementsEqual("\r\n\r\n".utf8) {
                    let count = read(connection, &buffer, buffer.count)
                    if count <= 0 { break }
                    request += buffer[0..<count]
                }
                _ = Array(response.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                close(connection)
                lock.withLock { served += 1 }
            }
            close(listener)
        }
    }
}
