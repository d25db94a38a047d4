import Foundation
import Glibc
import TestSupport
import XCTest
@testable import WALArchive

/// A source that counts its fetches and hands out keys valid for `lifetime` seconds from the
/// test's clock.
private final class CountingSource: TemporaryCredentialsSource, @unchecked Sendable {
    let cacheIdentity: String
    var name: String { "the counting source" }
    let clock: TestClock
    var lifetime: Int64 = 3600
    var fetches = 0
    var failing = false

    init(identity: String, clock: TestClock) {
        cacheIdentity = identity
        self.clock = clock
    }

    func fetch() throws(StorageError) -> TemporaryCredentials {
        if failing { throw .unavailable(detail: "the source is down") }
        fetches += 1
        return TemporaryCredentials(keys: .init(accessKeyID: "ASIA\(fetches)", secretAccessKey: "secret-\(fetches)",
                                                sessionToken: "token-\(fetches)"),
                                    expiration: UTCTime(secondsSinceEpoch: clock.now.secondsSinceEpoch + lifetime))
    }
}

private final class TestClock: @unchecked Sendable {
    var now = UTCTime(secondsSinceEpoch: 1_800_000_000)
    func advance(_ seconds: Int64) { now = UTCTime(secondsSinceEpoch: now.secondsSinceEpoch + seconds) }
}

final class CredentialsCacheTests: XCTestCase {
    private func provider(_ source: CountingSource, cache directory: String?) -> RefreshingCredentialsProvider {
        RefreshingCredentialsProvider(source: source, cache: directory.flatMap(CredentialsCache.init(directory:)),
                                      clock: { [clock = source.clock] in clock.now })
    }

    func testKeysAreReusedUntilFiveMinutesBeforeExpiryThenRefreshed() throws {
        let clock = TestClock()
        let source = CountingSource(identity: "memory-only", clock: clock)
        let keys = provider(source, cache: nil)
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA1")
        clock.advance(3600 - 301)
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA1", "301 s left: still used")
        clock.advance(2)
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA2", "299 s left: refreshed")
        XCTAssertEqual(source.fetches, 2)
        keys.invalidate()
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA3", "refused keys are fetched again")
    }

    /// Each provider stands for one process: the second finds the first one's keys on disk.
    func testProcessesShareTheDiskCacheAndItsFilesArePrivate() throws {
        let directory = try makeTemporaryDirectory(self) + "/nested/credentials"
        let clock = TestClock()
        let source = CountingSource(identity: "shared", clock: clock)
        for _ in 0..<3 {
            XCTAssertEqual(try provider(source, cache: directory).credentials(),
                           .init(accessKeyID: "ASIA1", secretAccessKey: "secret-1", sessionToken: "token-1"))
        }
        XCTAssertEqual(source.fetches, 1)
        XCTAssertEqual(try permissions(directory), 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(files.count, 2, "one credentials file and its lock: \(files)")
        for file in files { XCTAssertEqual(try permissions(directory + "/" + file), 0o600, file) }

        clock.advance(3600 - 200)
        XCTAssertEqual(try provider(source, cache: directory).credentials().accessKeyID, "ASIA2", "a stale file is refreshed")
        XCTAssertEqual(try provider(source, cache: directory).credentials().accessKeyID, "ASIA2")
        XCTAssertEqual(source.fetches, 2)
        XCTAssertEqual(try provider(CountingSource(identity: "another source", clock: clock), cache: directory).credentials().accessKeyID,
                       "ASIA1", "keys of one source never serve another")
    }

    func testACacheOthersCouldReadOrReplaceIsNotTrusted() throws {
        let directory = try makeTemporaryDirectory(self) + "/credentials"
        let clock = TestClock()
        let source = CountingSource(identity: "guarded", clock: clock)
        _ = try provider(source, cache: directory).credentials()
        let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: directory).first { !$0.hasSuffix(".lock") })
        chmod(directory + "/" + file, 0o644)
        _ = try provider(source, cache: directory).credentials()
        XCTAssertEqual(source.fetches, 2, "a group-readable file is ignored (and replaced)")
        XCTAssertEqual(try permissions(directory + "/" + file), 0o600)

        chmod(directory, 0o755)
        XCTAssertNil(CredentialsCache(directory: directory), "a directory others can read is not used")
        XCTAssertNil(CredentialsCache(directory: "relative/credentials"))
    }

    func testAFailedRefreshKeepsUsingKeysThatStillWorkAndExpiredKeysAreRefused() throws {
        let clock = TestClock()
        let source = CountingSource(identity: "flaky", clock: clock)
        let keys = provider(source, cache: nil)
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA1")
        source.failing = true
        clock.advance(3600 - 120)
        XCTAssertEqual(try keys.credentials().accessKeyID, "ASIA1", "two minutes left: still good while the source is down")
        clock.advance(100)
        XCTAssertThrowsError(try keys.credentials()) {
            XCTAssertEqual($0 as? StorageError, .unavailable(detail: "the source is down"))
        }
        source.failing = false
        source.lifetime = -1
        XCTAssertThrowsError(try keys.credentials()) {
            guard case .accessDenied(let detail)? = $0 as? StorageError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("already") || detail.contains("expired"), detail)
        }
    }

    func testCredentialsNeverPrintTheirSecrets() {
        let keys = S3Settings.Credentials(accessKeyID: "AKIDSHOWN", secretAccessKey: "very-secret", sessionToken: "token-secret")
        for text in [String(describing: keys), String(reflecting: keys), "\(CredentialSource.keys(keys, origin: "x"))",
                     String(describing: ServerSideEncryption.customerKey(.init(key: [UInt8](repeating: 7, count: 32))!))] {
            XCTAssertFalse(text.contains("very-secret") || text.contains("token-secret") || text.contains("BwcH"), text)
        }
        XCTAssertTrue(String(describing: keys).contains("AKIDSHOWN"))
    }

    func testExpirationsInTheFormsTheEndpointsWriteThem() throws {
        let noon = UTCTime(secondsSinceEpoch: 1_795_867_200)
        XCTAssertEqual(noon.extendedISO8601, "2026-11-28T12:00:00Z")
        XCTAssertEqual(UTCTime(iso8601: "2026-11-28T12:00:00Z"), noon)
        XCTAssertEqual(UTCTime(iso8601: "2026-11-28T12:00:00.123Z"), noon)
        XCTAssertEqual(UTCTime(iso8601: "2026-11-28T13:30:00+01:30"), noon)
        for bad in ["2026-11-28 12:00:00Z", "2026-13-28T12:00:00Z", "2026-11-28T12:00:00", "yesterday"] {
            XCTAssertNil(UTCTime(iso8601: bad), bad)
        }
    }

    func testBase64AndTheSSECustomerKeyHeaders() throws {
        for (bytes, text) in [([UInt8](), ""), (Array("f".utf8), "Zg=="), (Array("fo".utf8), "Zm8="), (Array("foo".utf8), "Zm9v"),
                              (Array("foobar".utf8), "Zm9vYmFy")] {
            XCTAssertEqual(Base64.encode(bytes), text)
            XCTAssertEqual(Base64.decode(text), bytes)
        }
        XCTAssertNil(Base64.decode("Zm9"))
        XCTAssertNil(Base64.decode("Z=9v"))
        let key = try XCTUnwrap(ServerSideEncryption.CustomerKey(key: Array(0..<32)))
        let headers = Dictionary(uniqueKeysWithValues: key.headers.map { ($0.name, $0.value) })
        XCTAssertEqual(headers["x-amz-server-side-encryption-customer-algorithm"], "AES256")
        XCTAssertEqual(headers["x-amz-server-side-encryption-customer-key"], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        // MD5 of the bytes 0…31 (python3 -c "import hashlib;print(hashlib.md5(bytes(range(32))).hexdigest())").
        XCTAssertEqual(Base64.decode(headers["x-amz-server-side-encryption-customer-key-md5"] ?? "")?.hexString,
                       "b4ffcb23737cec315a4a4d1aa2a620ce")
        XCTAssertNil(ServerSideEncryption.CustomerKey(key: Array(0..<16)))
    }

    private func permissions(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
}
