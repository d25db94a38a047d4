import Foundation
import Glibc
import TestSupport
import XCTest
@testable import WALArchive

/// Each temporary-credential source against the protocol it speaks: STS on the local S3 server
/// (moto, whose S3 then checks the temporary keys against the role's policy), and local
/// IMDSv2 and container endpoints (TestSupport/LocalCredentialsEndpoint).
final class CredentialSourceTests: XCTestCase {
    private var server: LocalS3Server!
    private var prefix = ""
    private var scratch = ""

    override func setUpWithError() throws {
        server = try LocalS3Server.sharedMoto()
        prefix = server.uniquePrefix(name.filter { $0.isLetter || $0.isNumber })
        scratch = try makeTemporaryDirectory(self, "credentials")
    }

    private var sts: SecurityTokenService {
        SecurityTokenService(endpoint: server.endpoint, region: server.region, caBundlePath: nil)
    }

    /// Temporary keys for the test role, as STS hands them out.
    private func temporaryKeys() throws -> TemporaryCredentials {
        try sts.assumeRole(roleARN: server.roleARN, sessionName: "fixture-" + UUID().uuidString.prefix(8), externalID: nil,
                           durationSeconds: nil, signedWith: server.credentials)
    }

    private func served(_ credentials: TemporaryCredentials, expiring: Date = Date().addingTimeInterval(3600))
        -> LocalCredentialsEndpoint.Served {
        .init(accessKeyID: credentials.keys.accessKeyID, secretAccessKey: credentials.keys.secretAccessKey,
              sessionToken: credentials.keys.sessionToken, expiration: expiring)
    }

    /// A round trip through S3 signed with whatever `source` yields.
    private func assertS3Accepts(_ source: CredentialSource, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try S3Store(settings: server.settings(source: source))
        XCTAssertEqual(try putBytes(store, key: prefix + "object", Array("signed".utf8)), .stored, file: file, line: line)
        let sink = CollectingSink()
        try store.get(key: prefix + "object", into: sink)
        XCTAssertEqual(sink.bytes, Array("signed".utf8), file: file, line: line)
        try store.delete(key: prefix + "object")
    }

    func testWebIdentityTokenIsExchangedUnsignedAndReadAgainAtEachRefresh() throws {
        let tokenFile = scratch + "/token"
        try "token-one\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let session = "web-" + UUID().uuidString.prefix(8)
        let role = WebIdentityRole(roleARN: server.roleARN, sessionName: String(session), tokenFile: tokenFile,
                                   stsEndpoint: server.endpoint, origin: "the test")
        try assertS3Accepts(.webIdentity(role))

        let clock = TestClock()
        let provider = RefreshingCredentialsProvider(source: WebIdentityCredentials(role: role, sts: sts),
                                                     cache: CredentialsCache(directory: scratch + "/cache"), clock: { clock.now })
        let first = try provider.credentials()
        XCTAssertTrue(first.accessKeyID.hasPrefix("ASIA"), first.accessKeyID)
        try "token-two".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try provider.credentials(), first, "fresh keys are not fetched again")
        clock.advance(3600 - 299)
        let second = try provider.credentials()
        XCTAssertNotEqual(second, first)

        let calls = try server.stsCalls().filter { $0.session_name == session }
        XCTAssertEqual(calls.map(\.action), Array(repeating: "AssumeRoleWithWebIdentity", count: 3))
        XCTAssertEqual(calls.map(\.token), ["token-one", "token-one", "token-two"], "the rotated token is read at the refresh")
        XCTAssertEqual(calls.map(\.role_arn), Array(repeating: server.roleARN, count: 3))
    }

    func testWebIdentityRefusedByStsIsAccessDeniedWithoutTheToken() throws {
        let tokenFile = scratch + "/token"
        try "invalid-token-4f1c8e9a7b".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let role = WebIdentityRole(roleARN: server.roleARN, sessionName: "refused", tokenFile: tokenFile,
                                   stsEndpoint: server.endpoint, origin: "the test")
        XCTAssertThrowsError(try S3Store(settings: server.settings(source: .webIdentity(role))).head(key: prefix + "x")) { error in
            guard case .accessDenied(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("InvalidIdentityToken"), detail)
            XCTAssertFalse(detail.contains("4f1c8e9a7b"), detail)
        }
        let missing = WebIdentityRole(roleARN: server.roleARN, sessionName: "missing", tokenFile: scratch + "/absent",
                                      stsEndpoint: server.endpoint, origin: "AWS_WEB_IDENTITY_TOKEN_FILE")
        XCTAssertThrowsError(try S3Store(settings: server.settings(source: .webIdentity(missing))).head(key: prefix + "x")) { error in
            XCTAssertTrue((error as? StorageError)?.message.contains("cannot read the web identity token file") == true, "\(error)")
        }
    }

    func testAssumeRoleIsSignedWithTheSourceKeys() throws {
        let session = "assume-" + UUID().uuidString.prefix(8)
        let role = AssumedRole(roleARN: server.roleARN, sessionName: String(session), externalID: nil, durationSeconds: 900,
                               stsEndpoint: server.endpoint, source: .keys(server.credentials, origin: "the test"), origin: "the test")
        try assertS3Accepts(.assumedRole(role))
        XCTAssertEqual(try server.stsCalls().filter { $0.session_name == session }.map(\.action), ["AssumeRole"])

        var wrongSource = role
        wrongSource.sessionName = "assume-wrong"
        wrongSource.source = .keys(.init(accessKeyID: server.credentials.accessKeyID, secretAccessKey: "not-the-secret-0000"),
                                   origin: "the test")
        XCTAssertThrowsError(try S3Store(settings: server.settings(source: .assumedRole(wrongSource))).head(key: prefix + "x")) { error in
            guard case .accessDenied(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("STS AssumeRole") && detail.contains("SignatureDoesNotMatch"), detail)
            XCTAssertFalse(detail.contains("not-the-secret"), detail)
        }
    }

    func testContainerEndpointGetsTheAuthorizationTokenFromItsFileAtEachFetch() throws {
        let tokenFile = scratch + "/authorization"
        try "authorization-one\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let endpoint = try LocalCredentialsEndpoint(serving: served(try temporaryKeys()), containerAuthorization: "authorization-one")
        defer { endpoint.stop() }
        let container = ContainerEndpoint(url: endpoint.containerURL, authorizationTokenFile: tokenFile, authorizationToken: nil)
        try assertS3Accepts(.container(container))
        XCTAssertEqual(endpoint.count("container"), 1, "one fetch for all the store's requests")

        try "authorization-two".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        endpoint.containerAuthorization = "authorization-two"
        XCTAssertNoThrow(try ContainerCredentials(endpoint: container, caBundlePath: nil).fetch())
        XCTAssertEqual(endpoint.count("container"), 2)

        endpoint.containerAuthorization = "something-else"
        XCTAssertThrowsError(try ContainerCredentials(endpoint: container, caBundlePath: nil).fetch()) { error in
            guard case .accessDenied(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("HTTP 401"), detail)
            XCTAssertFalse(detail.contains("authorization-two"), detail)
        }
        let plain = ContainerEndpoint(url: endpoint.containerURL, authorizationTokenFile: nil, authorizationToken: "something-else")
        XCTAssertNoThrow(try ContainerCredentials(endpoint: plain, caBundlePath: nil).fetch())
    }

    func testInstanceMetadataIsReadWithIMDSv2SessionTokensOnly() throws {
        let endpoint = try LocalCredentialsEndpoint(serving: served(try temporaryKeys()))
        defer { endpoint.stop() }
        try assertS3Accepts(.instanceMetadata(endpoint: endpoint.endpoint, tried: "nothing else"))
        XCTAssertEqual([endpoint.count("token"), endpoint.count("role"), endpoint.count("metadata-credentials"),
                        endpoint.count("imdsv1-refused")], [1, 1, 1, 0])

        let closed = try LocalCredentialsEndpoint(serving: served(try temporaryKeys()))
        let closedEndpoint = closed.endpoint
        closed.stop()
        XCTAssertThrowsError(try InstanceMetadataCredentials(endpoint: closedEndpoint, tried: "no access key is set").fetch()) { error in
            guard case .accessDenied(let detail)? = error as? StorageError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.hasPrefix("no AWS credentials found: no access key is set, and EC2 instance metadata at "
                                           + closedEndpoint + " did not answer"), detail)
        }
    }

    func testKeysAnsweredWithExpiredTokenAreFetchedAgainAndTheRequestRetried() throws {
        let first = try temporaryKeys()
        let endpoint = try LocalCredentialsEndpoint(serving: served(first))
        defer { endpoint.stop() }
        let store = try S3Store(settings: server.settings(source: .container(.init(
            url: endpoint.containerURL, authorizationTokenFile: nil, authorizationToken: "expiry-" + UUID().uuidString))))
        XCTAssertNil(try store.head(key: prefix + "absent"))
        XCTAssertEqual(endpoint.count("container"), 1)

        try server.expireSessionToken(try XCTUnwrap(first.keys.sessionToken))
        endpoint.served = served(try temporaryKeys())
        XCTAssertEqual(try putBytes(store, key: prefix + "after-expiry", [1, 2, 3]), .stored)
        XCTAssertEqual(endpoint.count("container"), 2, "the refused keys were replaced once")

        // A HEAD's refusal has no body to say why: temporary keys are renewed for it too.
        try server.expireSessionToken(try XCTUnwrap(endpoint.served.sessionToken))
        endpoint.served = served(try temporaryKeys())
        XCTAssertNotNil(try store.head(key: prefix + "after-expiry"))
        XCTAssertEqual(endpoint.count("container"), 3)

        try server.expireSessionToken(try XCTUnwrap(endpoint.served.sessionToken))
        XCTAssertThrowsError(try store.get(key: prefix + "after-expiry", into: CollectingSink()),
                             "keys refused again are not fetched forever") { error in
            XCTAssertEqual((error as? StorageError)?.message.contains("ExpiredToken"), true, "\(error)")
        }
        XCTAssertEqual(endpoint.count("container"), 4)
    }
}

final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = UTCTime.now()
    var now: UTCTime { lock.withLock { current } }
    func advance(_ seconds: Int64) { lock.withLock { current = UTCTime(secondsSinceEpoch: current.secondsSinceEpoch + seconds) } }
}
