import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// Which source the credential chain picks, from the settings, the environment and the shared
/// AWS files alone (no request is made to pick it).
final class CredentialChainTests: XCTestCase {
    private var home = ""

    override func setUpWithError() throws {
        home = try makeTemporaryDirectory(self, "home")
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
    }

    private func source(_ environment: [String: String], arguments: [String] = []) throws -> CredentialSource {
        let configuration = try Configuration.load(
            options: CommandLineOptions.parse(arguments),
            environment: ["HOME": home, "WAL_ARCHIVE_URL": "s3://bucket/p", "WAL_ARCHIVE_CONFIG": "none"].merging(environment) { $1 })
        guard case .s3(let settings) = configuration.destination else { throw XCTSkip("not s3") }
        return settings.credentials
    }

    private func settings(_ environment: [String: String]) throws -> S3Settings {
        let configuration = try Configuration.load(
            options: CommandLineOptions(),
            environment: ["HOME": home, "WAL_ARCHIVE_URL": "s3://bucket/p", "WAL_ARCHIVE_CONFIG": "none"].merging(environment) { $1 })
        guard case .s3(let settings) = configuration.destination else { throw XCTSkip("not s3") }
        return settings
    }

    private func message(_ environment: [String: String], arguments: [String] = []) -> String {
        do {
            _ = try source(environment, arguments: arguments)
            XCTFail("expected a configuration error")
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            XCTFail("unexpected \(error)")
        }
        return ""
    }

    private func write(_ text: String, to name: String) throws {
        try text.write(toFile: home + "/.aws/" + name, atomically: true, encoding: .utf8)
    }

    private let explicit = ["AWS_ACCESS_KEY_ID": "AKIDEXPLICIT", "AWS_SECRET_ACCESS_KEY": "explicit-secret"]
    private let webIdentity = ["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/web",
                               "AWS_ROLE_SESSION_NAME": "pg"]
    private let container = ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"]
    private let metadata = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"]

    func testEachSourceWinsOverEverySourceAfterItInTheSDKOrder() throws {
        try write("[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n", to: "credentials")
        let everything = explicit.merging(webIdentity) { $1 }.merging(container) { $1 }.merging(metadata) { $1 }
        XCTAssertEqual(try source(everything).staticKeys?.accessKeyID, "AKIDEXPLICIT")

        var withoutExplicit = everything
        withoutExplicit["AWS_ACCESS_KEY_ID"] = nil
        withoutExplicit["AWS_SECRET_ACCESS_KEY"] = nil
        XCTAssertEqual(try source(withoutExplicit),
                       .webIdentity(.init(roleARN: "arn:aws:iam::1:role/web", sessionName: "pg", tokenFile: "/var/run/secrets/token",
                                          stsEndpoint: "https://sts.us-east-1.amazonaws.com", origin: "AWS_WEB_IDENTITY_TOKEN_FILE")))

        var withoutWebIdentity = withoutExplicit
        for name in webIdentity.keys { withoutWebIdentity[name] = nil }
        XCTAssertEqual(try source(withoutWebIdentity).staticKeys?.accessKeyID, "AKIDPROFILE")

        try FileManager.default.removeItem(atPath: home + "/.aws/credentials")
        XCTAssertEqual(try source(withoutWebIdentity),
                       .container(.init(url: "http://169.254.170.2/v2/credentials/abc", authorizationTokenFile: nil, authorizationToken: nil)))

        var onlyMetadata = withoutWebIdentity
        for name in container.keys { onlyMetadata[name] = nil }
        guard case .instanceMetadata(let endpoint, _) = try source(onlyMetadata) else { return XCTFail("expected instance metadata") }
        XCTAssertEqual(endpoint, "http://127.0.0.1:1")
        guard case .instanceMetadata(let defaultEndpoint, _) = try source([:]) else { return XCTFail("expected instance metadata") }
        XCTAssertEqual(defaultEndpoint, "http://169.254.169.254")
        guard case .instanceMetadata(let ipv6, _) = try source(["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"]) else {
            return XCTFail("expected instance metadata")
        }
        XCTAssertEqual(ipv6, "http://[fd00:ec2::254]")

        let none = message(["AWS_EC2_METADATA_DISABLED": "true"])
        XCTAssertTrue(none.hasPrefix("no AWS credentials found: no access key is set (AWS_ACCESS_KEY_ID"), none)
        for named in ["AWS_WEB_IDENTITY_TOKEN_FILE", ".aws/credentials", ".aws/config", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                      "AWS_EC2_METADATA_DISABLED"] {
            XCTAssertTrue(none.contains(named), "\(named) missing from: \(none)")
        }
    }

    func testHalfConfiguredSourcesAreErrorsNotFallThroughs() throws {
        XCTAssertTrue(message(["AWS_SECRET_ACCESS_KEY": "s"]).hasPrefix("AWS_ACCESS_KEY_ID is not set"))
        XCTAssertTrue(message(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t"]).hasPrefix("AWS_ROLE_ARN is not set"))
        XCTAssertTrue(message(["AWS_PROFILE": "missing"]).hasPrefix("invalid value `missing` for AWS_PROFILE; expected a profile"))
        XCTAssertTrue(message([:], arguments: ["--profile", "missing"]).contains("for --profile"))
        let plainRemote = message(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.1/creds"])
        XCTAssertTrue(plainRemote.hasPrefix("invalid value `http://10.0.0.1/creds` for AWS_CONTAINER_CREDENTIALS_FULL_URI"), plainRemote)
        for allowed in ["http://127.0.0.1:8080/creds", "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/c",
                        "https://credentials.example/creds"] {
            guard case .container(let endpoint) = try source(["AWS_CONTAINER_CREDENTIALS_FULL_URI": allowed,
                                                              "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/token"]) else {
                return XCTFail(allowed)
            }
            XCTAssertEqual(endpoint.url, allowed)
            XCTAssertEqual(endpoint.authorizationTokenFile, "/token")
        }
    }

    func testProfilesAssumeRolesFromSourceProfilesCredentialSourcesAndWebIdentityFiles() throws {
        try write("""
            [base]
            aws_access_key_id = AKIDBASE
            aws_secret_access_key = base-secret
            [self]
            aws_access_key_id = AKIDSELF
            aws_secret_access_key = self-secret
            """, to: "credentials")
        try write("""
            # comment
            [default]
            region = eu-central-1
            [profile deploy]
            role_arn = arn:aws:iam::1:role/deploy
            source_profile = base
            role_session_name = pg-archive
            external_id = ext-1
            duration_seconds = 1800
            s3 =
              max_concurrent_requests = 4
            [profile chained]
            role_arn = arn:aws:iam::1:role/second
            source_profile = deploy
            [profile self]
            role_arn = arn:aws:iam::1:role/self
            source_profile = self
            [profile onec2]
            role_arn = arn:aws:iam::1:role/ec2
            credential_source = Ec2InstanceMetadata
            [profile ci]
            role_arn = arn:aws:iam::1:role/ci
            web_identity_token_file = /run/ci-token
            [profile loop-a]
            role_arn = arn:aws:iam::1:role/a
            source_profile = loop-b
            [profile loop-b]
            role_arn = arn:aws:iam::1:role/b
            source_profile = loop-a
            [profile process]
            credential_process = /usr/bin/get-keys
            [profile lonely-role]
            role_arn = arn:aws:iam::1:role/x
            [sso-session corp]
            sso_region = eu-west-1
            """, to: "config")
        let sts = ["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:4566"]

        guard case .assumedRole(let deploy) = try source(sts.merging(["AWS_PROFILE": "deploy"]) { $1 }) else {
            return XCTFail("deploy is an assumed role")
        }
        XCTAssertEqual(deploy.roleARN, "arn:aws:iam::1:role/deploy")
        XCTAssertEqual(deploy.sessionName, "pg-archive")
        XCTAssertEqual(deploy.externalID, "ext-1")
        XCTAssertEqual(deploy.durationSeconds, 1800)
        XCTAssertEqual(deploy.stsEndpoint, "http://127.0.0.1:4566")
        XCTAssertEqual(deploy.source.staticKeys?.accessKeyID, "AKIDBASE")

        guard case .assumedRole(let chained) = try source(["AWS_PROFILE": "chained"]),
              case .assumedRole(let inner) = chained.source else { return XCTFail("chained assumes deploy first") }
        XCTAssertEqual(inner.roleARN, "arn:aws:iam::1:role/deploy")
        XCTAssertEqual(chained.stsEndpoint, "https://sts.us-east-1.amazonaws.com", "the chosen profile's region (none)")
        XCTAssertEqual(try settings([:]).region, "eu-central-1", "the default profile's region")

        guard case .assumedRole(let selfSourced) = try source(["AWS_PROFILE": "self"]) else { return XCTFail("self") }
        XCTAssertEqual(selfSourced.source.staticKeys?.accessKeyID, "AKIDSELF")

        guard case .assumedRole(let onEC2) = try source(["AWS_PROFILE": "onec2"]),
              case .instanceMetadata = onEC2.source else { return XCTFail("onec2 signs with instance credentials") }

        XCTAssertEqual(try source(["AWS_PROFILE": "ci", "AWS_REGION": "ap-south-1"]),
                       .webIdentity(.init(roleARN: "arn:aws:iam::1:role/ci", sessionName: nil, tokenFile: "/run/ci-token",
                                          stsEndpoint: "https://sts.ap-south-1.amazonaws.com",
                                          origin: "profile `ci` in \(home)/.aws/config")))

        XCTAssertTrue(message(["AWS_PROFILE": "loop-a"]).contains("leads back to itself"))
        XCTAssertTrue(message(["AWS_PROFILE": "process"]).contains("credential_process is not supported"))
        XCTAssertTrue(message(["AWS_PROFILE": "lonely-role"])
            .contains("role_arn needs source_profile, credential_source or web_identity_token_file"))
        XCTAssertTrue(message(["AWS_PROFILE": "corp"]).hasPrefix("invalid value `corp` for AWS_PROFILE"))

        XCTAssertEqual(try settings(["AWS_PROFILE": "base"]).region, "us-east-1", "base has no region, nor a config section")
        XCTAssertEqual(try settings(explicit).region, "eu-central-1", "the default profile's region applies to any source")
        XCTAssertEqual(try settings(explicit.merging(["AWS_REGION": "us-west-2"]) { $1 }).region, "us-west-2")
    }

    func testSharedFilesComeFromTheirVariablesAndEmptyMeansDefault() throws {
        let elsewhere = try makeTemporaryDirectory(self, "aws-files")
        try "[ops]\naws_access_key_id = AKIDELSEWHERE\naws_secret_access_key = s\n"
            .write(toFile: elsewhere + "/creds", atomically: true, encoding: .utf8)
        try write("[ops]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n", to: "credentials")
        XCTAssertEqual(try source(["AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": elsewhere + "/creds"]).staticKeys?.accessKeyID,
                       "AKIDELSEWHERE")
        XCTAssertEqual(try source(["AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": ""]).staticKeys?.accessKeyID, "AKIDHOME")
        XCTAssertEqual(try source(["AWS_DEFAULT_PROFILE": "ops"]).staticKeys?.accessKeyID, "AKIDHOME")
        try write("[ops\n", to: "config")
        XCTAssertEqual(message(["AWS_PROFILE": "ops"]),
                       "config file \(home)/.aws/config line 1: a section header must end with `]`; fix the line")
    }

    func testSTSEndpointIsTheVariableOrTheRegionsOwn() throws {
        XCTAssertEqual(try CredentialChain.stsEndpoint(environment: [:], region: "eu-west-3"), "https://sts.eu-west-3.amazonaws.com")
        XCTAssertEqual(try CredentialChain.stsEndpoint(environment: [:], region: "cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn")
        XCTAssertEqual(try CredentialChain.stsEndpoint(environment: ["AWS_ENDPOINT_URL_STS": "https://sts.internal:8443/"], region: "x"),
                       "https://sts.internal:8443")
        XCTAssertThrowsError(try CredentialChain.stsEndpoint(environment: ["AWS_ENDPOINT_URL_STS": "sts.internal"], region: "x"))
    }

    /// Local records (push-ahead, prefetch, hints) are tied to the store's identity; with
    /// temporary keys it names the role, so renewing the keys keeps them valid.
    func testTheStoreIdentityNamesTheRoleNotTheChangingKeys() throws {
        let role = WebIdentityRole(roleARN: "arn:aws:iam::1:role/web", sessionName: nil, tokenFile: "/t", stsEndpoint: "https://sts",
                                   origin: "test")
        func tag(_ source: CredentialSource) -> String {
            StoreIdentity(destination: .s3(S3Settings(bucket: "b", endpoint: nil, region: "eu-west-1", credentials: source)),
                          prefix: "p").tag
        }
        XCTAssertEqual(CredentialSource.webIdentity(role).principal, "web identity arn:aws:iam::1:role/web")
        var otherRole = role
        otherRole.roleARN = "arn:aws:iam::1:role/other"
        XCTAssertNotEqual(tag(.webIdentity(role)), tag(.webIdentity(otherRole)))
        XCTAssertEqual(tag(.keys(.init(accessKeyID: "AKID", secretAccessKey: "one"), origin: "a")),
                       tag(.keys(.init(accessKeyID: "AKID", secretAccessKey: "two"), origin: "b")))
        XCTAssertNotEqual(tag(.keys(.init(accessKeyID: "AKID", secretAccessKey: "s"), origin: "a")),
                          tag(.keys(.init(accessKeyID: "AKID2", secretAccessKey: "s"), origin: "a")))
    }

    /// Secrets can only come from the environment, a file or the config file: none has a
    /// command-line option, so none can reach `ps`, the process title, or the command line the
    /// prefetch worker is started with (the caller's own arguments again).
    func testNoSecretCanBeGivenOnTheCommandLine() throws {
        for option in ["--secret-access-key", "--session-token", "--sse-c-key", "--encryption-key"] {
            XCTAssertThrowsError(try CommandLineOptions.parse([option, "x"]), option) {
                XCTAssertEqual(($0 as? ConfigurationError)?.message, "unknown option \(option); see --help")
            }
        }
        for setting in ConfigurationSetting.allCases where setting.isSecret {
            XCTAssertFalse(setting.commandLineOptions.contains(setting.optionName), "\(setting) has a plain option")
        }
    }
}

/// The permission check `wal-archive check` reports from.
final class SecretFileAuditTests: XCTestCase {
    func testFilesHoldingSecretsOrSettingsOpenToGroupOrOthersAreReported() throws {
        let directory = try makeTemporaryDirectory(self)
        func file(_ name: String, _ mode: Int) throws -> String {
            let path = directory + "/" + name
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            return path
        }
        let secret = try file("secret", 0o644)
        let privateKey = try file("key-id", 0o600)
        let sseKey = try file("sse-c", 0o640)
        let token = try file("token", 0o604)
        let config = try file("wal-archive.conf", 0o666)
        try "url = s3://b\nsession_token_file = \(secret)\n".write(toFile: config, atomically: false, encoding: .utf8)
        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        let credentials = home + "/.aws/credentials"
        XCTAssertTrue(FileManager.default.createFile(atPath: credentials, contents: Data(), attributes: [.posixPermissions: 0o644]))
        let cache = home + "/.cache/wal-archive/credentials"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])

        let warnings = SecretFileAudit.warnings(
            options: try CommandLineOptions.parse(["--config", config, "--sse-c-key-file", sseKey, "--access-key-id-file", privateKey]),
            environment: ["HOME": home, "AWS_SECRET_ACCESS_KEY_FILE": secret, "AWS_WEB_IDENTITY_TOKEN_FILE": token])
        XCTAssertEqual(warnings.map(\.path), [config, secret, sseKey, credentials, token, cache])
        XCTAssertEqual(warnings.map(\.mode), [0o666, 0o644, 0o640, 0o644, 0o604, 0o755])
        XCTAssertEqual(warnings[1].purpose, "secret key (AWS_SECRET_ACCESS_KEY_FILE)")
        XCTAssertEqual(warnings[1].description,
                       "\(secret) (secret key (AWS_SECRET_ACCESS_KEY_FILE)) has mode 644, open to its group and others; "
                       + "run `chmod 600 \(secret)` (owner: the user PostgreSQL runs as)")
        XCTAssertTrue(warnings[5].description.contains("chmod go= \(cache)"), warnings[5].description)
        XCTAssertNil(SecretFileAudit.check(privateKey, purpose: "key"))
        XCTAssertNil(SecretFileAudit.check(directory + "/absent", purpose: "key"))
    }
}
