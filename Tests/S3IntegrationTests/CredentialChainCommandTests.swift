import Foundation
import Glibc
import TestSupport
import XCTest
@testable import WALArchive

/// The credential chain as PostgreSQL runs the tools: one process per call, with only the
/// environment (and files) given. Counts the requests each source's server sees.
final class CredentialChainCommandTests: BuiltToolTestCase {
    private var server: LocalS3Server!
    private var prefix = ""
    private var scratch = ""
    private let segment = segmentName(timeline: 1, number: 0x71)

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.sharedMoto()
        prefix = String(server.uniquePrefix("chain").dropLast())
        scratch = try makeTemporaryDirectory(self, "chain")
        _ = try TestSegments.writeSegment(name: segment, in: dataDirectory + "/pg_wal", segmentSize: 1 << 20)
        try TestArchives.initialize(environment: base.merging(["AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                                                               "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey]) { $1 })
    }

    /// The archive, and nothing about credentials.
    private var base: [String: String] {
        ["WAL_ARCHIVE_URL": "s3://\(server.bucket)/\(prefix)", "WAL_ARCHIVE_ENDPOINT": server.endpoint,
         "AWS_REGION": server.region, "WAL_ARCHIVE_RETRY_BUDGET": "5", "WAL_ARCHIVE_MAX_ATTEMPTS": "2",
         "HOME": scratch, "WAL_ARCHIVE_CREDENTIALS_CACHE": scratch + "/cache"]
    }

    private func temporaryKeys() throws -> TemporaryCredentials {
        try SecurityTokenService(endpoint: server.endpoint, region: server.region, caBundlePath: nil)
            .assumeRole(roleARN: server.roleARN, sessionName: "fixture-" + UUID().uuidString.prefix(8), externalID: nil,
                        durationSeconds: nil, signedWith: server.credentials)
    }

    private func served(_ keys: TemporaryCredentials, lifetime: TimeInterval = 3600) -> LocalCredentialsEndpoint.Served {
        .init(accessKeyID: keys.keys.accessKeyID, secretAccessKey: keys.keys.secretAccessKey,
              sessionToken: keys.keys.sessionToken, expiration: Date().addingTimeInterval(lifetime))
    }

    private func webIdentity(session: String, token: String) throws -> [String: String] {
        let tokenFile = scratch + "/web-identity-token"
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        return ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": server.roleARN, "AWS_ROLE_SESSION_NAME": session,
                "AWS_ENDPOINT_URL_STS": server.endpoint]
    }

    private func stsCalls(_ session: String) throws -> [LocalS3Server.STSCall] {
        try server.stsCalls().filter { $0.session_name == session }
    }

    /// Push (stores), push again (HEAD only), fetch of a missing segment: three processes.
    private func threeCalls(_ environment: [String: String], file: StaticString = #filePath, line: UInt = #line) throws {
        let push = try run("wal-push", ["pg_wal/" + segment], environment: environment)
        XCTAssertEqual(push.status, 0, push.stderr, file: file, line: line)
        let again = try run("wal-push", ["pg_wal/" + segment], environment: environment)
        XCTAssertEqual(again.status, 0, again.stderr, file: file, line: line)
        let missing = try run("wal-fetch", [segmentName(timeline: 1, number: 0x72), "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(missing.status, 1, missing.stderr, file: file, line: line)
    }

    func testThreeCallsInARowMakeOneSTSCallThroughAPrivateDiskCache() throws {
        let session = "three-" + UUID().uuidString.prefix(8)
        try threeCalls(base.merging(try webIdentity(session: String(session), token: "token-of-three")) { $1 })
        XCTAssertEqual(try stsCalls(String(session)).map(\.action), ["AssumeRoleWithWebIdentity"])
        let cache = scratch + "/cache"
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: cache)[.posixPermissions] as? Int, 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: cache) {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: cache + "/" + file)[.posixPermissions] as? Int, 0o600, file)
        }

        // Without a usable cache every process asks STS again, and still works.
        let uncached = "uncached-" + UUID().uuidString.prefix(8)
        var environment = base.merging(try webIdentity(session: String(uncached), token: "token-uncached")) { $1 }
        environment["WAL_ARCHIVE_CREDENTIALS_CACHE"] = "none"
        try threeCalls(environment)
        XCTAssertEqual(try stsCalls(String(uncached)).count, 3)
    }

    /// Container keys with less than five minutes left are fetched again by every process (and
    /// once for all the requests of one process); long-lived ones once for all processes.
    func testShortLivedContainerKeysAreRefreshedAtEveryCallLongLivedOnesCached() throws {
        let endpoint = try LocalCredentialsEndpoint(serving: served(try temporaryKeys(), lifetime: 240))
        defer { endpoint.stop() }
        let environment = base.merging(["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.containerURL]) { $1 }
        try threeCalls(environment)
        XCTAssertEqual(endpoint.count("container"), 3)
        endpoint.served = served(try temporaryKeys(), lifetime: 3600)
        try threeCalls(environment)
        XCTAssertEqual(endpoint.count("container"), 4)
    }

    func testEachSourceIsUsedOnlyWhenNoneBeforeItIsConfigured() throws {
        let keys = try temporaryKeys()
        let endpoint = try LocalCredentialsEndpoint(serving: served(keys), containerAuthorization: "container-authorization")
        defer { endpoint.stop() }
        let session = "precedence-" + String(UUID().uuidString.prefix(8))
        let wrongProfile = scratch + "/wrong-credentials"
        try "[default]\naws_access_key_id = \(server.credentials.accessKeyID)\naws_secret_access_key = wrong-profile-secret\n"
            .write(toFile: wrongProfile, atomically: true, encoding: .utf8)
        var environment = base.merging([
            "AWS_ACCESS_KEY_ID": server.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": server.credentials.secretAccessKey,
            "AWS_SHARED_CREDENTIALS_FILE": wrongProfile,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.containerURL, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-authorization",
            "AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint.endpoint,
        ]) { $1 }.merging(try webIdentity(session: session, token: "token-precedence")) { $1 }
        func push(_ expected: Int32, _ what: String) throws {
            let result = try run("wal-push", ["pg_wal/" + segment], environment: environment)
            XCTAssertEqual(result.status, expected, "\(what): \(result.stderr)")
        }

        try push(0, "explicit keys")
        XCTAssertEqual(try stsCalls(session).count, 0)
        XCTAssertEqual([endpoint.count("container"), endpoint.count("token")], [0, 0])

        environment["AWS_ACCESS_KEY_ID"] = nil
        environment["AWS_SECRET_ACCESS_KEY"] = nil
        try push(0, "web identity")
        XCTAssertEqual(try stsCalls(session).count, 1)

        environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = nil
        try push(1, "the profile's (wrong) keys")
        XCTAssertEqual([endpoint.count("container"), endpoint.count("token")], [0, 0])
        let goodProfile = scratch + "/config"
        try "[profile archiver]\nregion = \(server.region)\nrole_arn = \(server.roleARN)\nsource_profile = archiver\nrole_session_name = \(session)-role\n"
            .write(toFile: goodProfile, atomically: true, encoding: .utf8)
        try "[archiver]\naws_access_key_id = \(server.credentials.accessKeyID)\naws_secret_access_key = \(server.credentials.secretAccessKey)\n"
            .write(toFile: wrongProfile, atomically: true, encoding: .utf8)
        environment["AWS_CONFIG_FILE"] = goodProfile
        environment["AWS_PROFILE"] = "archiver"
        try push(0, "the profile's role, assumed with its own keys")
        XCTAssertEqual(try stsCalls(session + "-role").map(\.action), ["AssumeRole"])

        environment["AWS_PROFILE"] = nil
        try push(0, "container")
        XCTAssertEqual([endpoint.count("container"), endpoint.count("token")], [1, 0])

        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = nil
        try push(0, "instance metadata")
        XCTAssertEqual([endpoint.count("container"), endpoint.count("token"), endpoint.count("metadata-credentials")], [1, 1, 1])
        XCTAssertEqual(endpoint.count("imdsv1-refused"), 0)

        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        let none = try run("wal-push", ["pg_wal/" + segment], environment: environment)
        XCTAssertEqual(none.status, 2)
        assertOneLine(none, "wal-push: no AWS credentials found: no access key is set")
        let noneFetch = try run("wal-fetch", [segment, "pg_wal/RECOVERYXLOG"], environment: environment)
        XCTAssertEqual(noneFetch.status, 255)
        assertOneLine(noneFetch, "wal-fetch: no AWS credentials found")
    }

    /// Failures of every source: exit codes as for any storage failure, one line, and none of
    /// the secrets involved in any output.
    func testNoFailureOfAnySourcePrintsASecret() throws {
        let keys = try temporaryKeys()
        let endpoint = try LocalCredentialsEndpoint(serving: served(keys), containerAuthorization: "container-authorization-secret")
        defer { endpoint.stop() }
        let closed = try LocalCredentialsEndpoint(serving: served(keys))
        let closedEndpoint = closed.endpoint
        closed.stop()
        let wrongTokenFile = scratch + "/wrong-authorization"
        try "wrong-authorization-secret\n".write(toFile: wrongTokenFile, atomically: true, encoding: .utf8)
        let profile = scratch + "/profile"
        try "[default]\naws_access_key_id = AKIAWRONGPROFILE\naws_secret_access_key = profile-secret-value\naws_session_token = profile-token-value\n"
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let cases: [(String, [String: String])] = [
            ("wrong explicit secret", ["AWS_ACCESS_KEY_ID": server.credentials.accessKeyID,
                                       "AWS_SECRET_ACCESS_KEY": "explicit-wrong-secret-value", "AWS_SESSION_TOKEN": "explicit-token-value"]),
            ("refused web identity token", try webIdentity(session: "refused", token: "invalid-web-identity-secret")),
            ("container refuses the token", ["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.containerURL,
                                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": wrongTokenFile]),
            ("no instance metadata", ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": closedEndpoint]),
            ("profile with wrong keys", ["AWS_SHARED_CREDENTIALS_FILE": profile]),
        ]
        let secrets = ["explicit-wrong-secret-value", "explicit-token-value", "invalid-web-identity-secret",
                       "wrong-authorization-secret", "container-authorization-secret", "profile-secret-value", "profile-token-value",
                       keys.keys.secretAccessKey, try XCTUnwrap(keys.keys.sessionToken), server.credentials.secretAccessKey]
        for (what, variables) in cases {
            let environment = base.merging(variables) { $1 }
            let push = try run("wal-push", ["pg_wal/" + segment], environment: environment)
            XCTAssertEqual(push.status, 1, "\(what): \(push.stderr)")
            assertOneLine(push, "wal-push: cannot store ")
            let fetch = try run("wal-fetch", [segment, "pg_wal/RECOVERYXLOG"], environment: environment)
            XCTAssertEqual(fetch.status, 255, "\(what): \(fetch.stderr)")
            assertOneLine(fetch, "wal-fetch: cannot fetch \(segment): ")
            for output in [push.stdout, push.stderr, fetch.stdout, fetch.stderr] {
                for secret in secrets {
                    XCTAssertFalse(output.contains(secret), "\(what) printed a secret: \(output)")
                }
            }
        }
    }
}
