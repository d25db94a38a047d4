import Foundation
import TestSupport
import XCTest
@testable import WALArchive

final class ConfigurationTests: XCTestCase {
    private let credentials = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"]

    private func load(_ arguments: [String] = [], environment: [String: String] = [:],
                      defaultConfigPath: String = "/nonexistent/wal-archive.conf") throws -> Configuration {
        // No shared AWS files and no instance metadata: only what the test sets counts.
        try Configuration.load(options: CommandLineOptions.parse(arguments),
                               environment: ["HOME": "/nonexistent-home", "AWS_EC2_METADATA_DISABLED": "true"]
                                   .merging(environment) { $1 },
                               defaultConfigPath: defaultConfigPath)
    }

    private func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            XCTFail("expected a configuration error")
            return ""
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            XCTFail("unexpected \(error)")
            return ""
        }
    }

    private func writeFile(_ text: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/file"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func s3(_ configuration: Configuration) -> S3Settings? {
        if case .s3(let settings) = configuration.destination { return settings }
        return nil
    }

    func testOptionBeatsEnvironmentBeatsConfigFile() throws {
        let file = try writeFile("# archive\nurl = s3://from-file/p\nregion = eu-north-1\nendpoint = http://file.example:1\n")
        var environment = credentials
        environment["WAL_ARCHIVE_URL"] = "s3://from-env/q"
        let fromOption = try load(["--config", file, "--url", "s3://from-option/r/s/"], environment: environment)
        XCTAssertEqual(s3(fromOption)?.bucket, "from-option")
        XCTAssertEqual(fromOption.prefix, "r/s")
        XCTAssertEqual(fromOption.location, "s3://from-option/r/s")
        XCTAssertEqual(s3(fromOption)?.region, "eu-north-1")
        XCTAssertEqual(s3(fromOption)?.endpoint, "http://file.example:1")

        let fromEnvironment = try load(["--config=" + file], environment: environment)
        XCTAssertEqual(s3(fromEnvironment)?.bucket, "from-env")
        XCTAssertEqual(fromEnvironment.prefix, "q")

        let fromFile = try load([], environment: credentials.merging(["WAL_ARCHIVE_CONFIG": file]) { $1 })
        XCTAssertEqual(s3(fromFile)?.bucket, "from-file")
    }

    func testDefaultConfigFileIsReadOnlyWhenItExists() throws {
        let file = try writeFile("url = file:///srv/wal\n")
        XCTAssertEqual(try load(defaultConfigPath: file).destination, .directory(root: "/srv/wal"))
        XCTAssertTrue(message { try self.load() }.contains("WAL_ARCHIVE_URL is not set"))
        XCTAssertTrue(message { try self.load(["--config", file + ".missing"]) }.contains("cannot read config file"))
    }

    func testAMissingDefaultConfigFileIsNamedWhenNothingElseSetsTheURL() throws {
        let missing = try makeTemporaryDirectory(self) + "/wal-archive.conf"
        XCTAssertEqual(message { try self.load(defaultConfigPath: missing) },
                       "no config file: \(missing) does not exist, and WAL_ARCHIVE_URL is not set; write the config "
                       + "file or set WAL_ARCHIVE_URL, --url or --config FILE")
        // The URL from elsewhere needs no file; other missing settings keep their own message.
        XCTAssertEqual(try load(["--url", "file:///srv/wal"], defaultConfigPath: missing).destination,
                       .directory(root: "/srv/wal"))
        XCTAssertTrue(message { try self.load(["--url", "s3://b/p"], defaultConfigPath: missing) }
            .hasPrefix("no AWS credentials found: no access key is set"))
        // A default file that exists but lacks the URL is not called missing.
        let withoutURL = try writeFile("region = eu-west-1\n")
        XCTAssertTrue(message { try self.load(defaultConfigPath: withoutURL) }.hasPrefix("WAL_ARCHIVE_URL is not set"))
    }

    func testConfigNoneReadsNoFileNotEvenTheDefault() throws {
        let file = try writeFile("url = file:///srv/wal\n")
        let viaEnvironment = message { try self.load([], environment: ["WAL_ARCHIVE_CONFIG": "none"], defaultConfigPath: file) }
        XCTAssertTrue(viaEnvironment.contains("WAL_ARCHIVE_URL is not set"), viaEnvironment)
        let viaOption = message { try self.load(["--config", "none"], defaultConfigPath: file) }
        XCTAssertTrue(viaOption.contains("WAL_ARCHIVE_URL is not set"), viaOption)
        XCTAssertEqual(try load(["--config", "none", "--url", "file:///a"], defaultConfigPath: file).destination,
                       .directory(root: "/a"))
    }

    func testEnvironmentNamesInPrecedenceOrder() throws {
        var environment = credentials
        environment["WAL_ARCHIVE_URL"] = "s3://b"
        environment["AWS_DEFAULT_REGION"] = "ap-south-1"
        XCTAssertEqual(s3(try load(environment: environment))?.region, "ap-south-1")
        environment["AWS_REGION"] = "eu-west-3"
        XCTAssertEqual(s3(try load(environment: environment))?.region, "eu-west-3")
        environment["WAL_ARCHIVE_REGION"] = "us-west-2"
        XCTAssertEqual(s3(try load(environment: environment))?.region, "us-west-2")
        XCTAssertEqual(s3(try load(["--region", "sa-east-1"], environment: environment))?.region, "sa-east-1")

        environment["AWS_ENDPOINT_URL"] = "https://aws.example"
        XCTAssertEqual(s3(try load(environment: environment))?.endpoint, "https://aws.example")
        environment["WAL_ARCHIVE_ENDPOINT"] = "http://127.0.0.1:9000/"
        let settings = s3(try load(environment: environment))
        XCTAssertEqual(settings?.endpoint, "http://127.0.0.1:9000")
        XCTAssertEqual(settings?.pathStyle, true, "an IP endpoint cannot use virtual hosts")
        environment["WAL_ARCHIVE_PATH_STYLE"] = "false"
        XCTAssertEqual(s3(try load(environment: environment))?.pathStyle, false)
        XCTAssertEqual(s3(try load(["--path-style"], environment: environment))?.pathStyle, true)
        XCTAssertEqual(s3(try load(environment: ["WAL_ARCHIVE_URL": "s3://b"].merging(credentials) { $1 }))?.pathStyle, false)
        XCTAssertEqual(s3(try load(environment: ["WAL_ARCHIVE_URL": "s3://b"].merging(credentials) { $1 }))?.region, "us-east-1")
    }

    func testSecretsFromFilesAndTheirErrorsNeverShowTheSecret() throws {
        let secretFile = try writeFile("s3cr3t-from-file\n")
        let keyFile = try writeFile("AKIDFILE\r\n")
        let environment = ["WAL_ARCHIVE_URL": "s3://b", "AWS_ACCESS_KEY_ID_FILE": keyFile, "AWS_SECRET_ACCESS_KEY_FILE": secretFile,
                           "AWS_SESSION_TOKEN": "token-value"]
        let settings = try XCTUnwrap(s3(try load(environment: environment)))
        XCTAssertEqual(settings.credentials.staticKeys,
                       .init(accessKeyID: "AKIDFILE", secretAccessKey: "s3cr3t-from-file", sessionToken: "token-value"))

        let optionFile = try writeFile("from-option-file")
        XCTAssertEqual(s3(try load(["--secret-access-key-file", optionFile], environment: environment))?.credentials.staticKeys?.secretAccessKey,
                       "from-option-file")

        var both = environment
        both["AWS_SECRET_ACCESS_KEY"] = "plain-secret-value"
        let conflict = message { try self.load(environment: both) }
        XCTAssertEqual(conflict, "both AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE are set; keep only one")

        var unreadable = environment
        unreadable["AWS_SECRET_ACCESS_KEY_FILE"] = secretFile + ".missing"
        let unreadableMessage = message { try self.load(environment: unreadable) }
        XCTAssertTrue(unreadableMessage.hasPrefix("cannot read the file named by AWS_SECRET_ACCESS_KEY_FILE"), unreadableMessage)

        let empty = try writeFile("\n")
        XCTAssertTrue(message { try self.load(environment: environment.merging(["AWS_SECRET_ACCESS_KEY_FILE": empty]) { $1 }) }
            .contains("is empty"))

        XCTAssertEqual(message { try self.load(["--secret-access-key", "x"], environment: environment) },
                       "unknown option --secret-access-key; see --help")

        let fileWithSecret = try writeFile("url = s3://b\naccess_key_id = AKIDCONF\nsecret_access_key_file = \(secretFile)\n")
        XCTAssertEqual(s3(try load(["--config", fileWithSecret]))?.credentials.staticKeys?.secretAccessKey, "s3cr3t-from-file")

        for text in [conflict, unreadableMessage] {
            XCTAssertFalse(text.contains("s3cr3t") || text.contains("plain-secret-value") || text.contains("token-value"), text)
        }
    }

    func testMissingAndInvalidSettingsNameTheSetting() throws {
        XCTAssertEqual(message { try self.load(environment: ["WAL_ARCHIVE_URL": "s3://b", "AWS_SECRET_ACCESS_KEY": "s"]) },
                       "AWS_ACCESS_KEY_ID is not set; set it (AWS_ACCESS_KEY_ID, AWS_ACCESS_KEY_ID_FILE, --access-key-id, "
                       + "--access-key-id-file, `access_key_id` in the config file) to the access key of the bucket's credentials")
        XCTAssertTrue(message { try self.load(environment: ["WAL_ARCHIVE_URL": "s3://b", "AWS_ACCESS_KEY_ID": "a"]) }
            .hasPrefix("AWS_SECRET_ACCESS_KEY is not set"))
        XCTAssertTrue(message { try self.load(environment: ["WAL_ARCHIVE_URL": "http://x"]) }
            .hasPrefix("invalid value `http://x` for WAL_ARCHIVE_URL; expected s3://bucket/optional/prefix or file:///absolute/directory"))
        XCTAssertTrue(message { try self.load(["--url", "file://relative"]) }.contains("for --url"))
        XCTAssertTrue(message { try self.load(["--url", "s3://b/../x"]) }.contains("`..`"))
        var environment = credentials
        environment["WAL_ARCHIVE_URL"] = "s3://b"
        XCTAssertEqual(message { try self.load(environment: environment.merging(["WAL_ARCHIVE_PATH_STYLE": "maybe"]) { $1 }) },
                       "invalid value `maybe` for WAL_ARCHIVE_PATH_STYLE; expected true or false")
        XCTAssertTrue(message { try self.load(environment: environment.merging(["WAL_ARCHIVE_RETRY_BUDGET": "-3"]) { $1 }) }
            .hasPrefix("invalid value `-3` for WAL_ARCHIVE_RETRY_BUDGET"))
        XCTAssertTrue(message { try self.load(environment: environment.merging(["WAL_ARCHIVE_ENDPOINT": "minio:9000"]) { $1 }) }
            .hasPrefix("invalid value `minio:9000` for WAL_ARCHIVE_ENDPOINT"))
        XCTAssertTrue(message { try self.load(environment: environment.merging(["WAL_ARCHIVE_CA_BUNDLE": "/nonexistent.pem"]) { $1 }) }
            .hasPrefix("invalid value `/nonexistent.pem` for WAL_ARCHIVE_CA_BUNDLE"))
        let settings = try XCTUnwrap(s3(try load(environment: environment.merging(
            ["WAL_ARCHIVE_RETRY_BUDGET": "300", "WAL_ARCHIVE_CONNECT_TIMEOUT": "3", "WAL_ARCHIVE_LOW_SPEED_TIMEOUT": "7",
             "WAL_ARCHIVE_MAX_ATTEMPTS": "9"]) { $1 })))
        XCTAssertEqual([settings.retryBudgetSeconds, settings.connectTimeoutSeconds, settings.lowSpeedTimeoutSeconds, settings.maxAttempts],
                       [300, 3, 7, 9])
    }

    func testConfigFileErrorsNameFileAndLine() throws {
        let unknown = try writeFile("url = file:///x\n\n  bucket = b\n")
        XCTAssertEqual(message { try self.load(["--config", unknown]) },
                       "config file \(unknown) line 3: unknown key `bucket`; see docs/configuration.md for the keys")
        let syntax = try writeFile("url file:///x\n")
        XCTAssertEqual(message { try self.load(["--config", syntax]) }, "config file \(syntax) line 1: expected `key = value`; fix the line")
        let invalid = try writeFile("url = 'file:///x'\nlegacy_flat_layout = perhaps\n")
        XCTAssertEqual(message { try self.load(["--config", invalid]) },
                       "invalid value `perhaps` for `legacy_flat_layout` in \(invalid) line 2; expected true or false")
        let quoted = try writeFile("url = \"file:///srv/wal/\"\nlegacy_flat_layout = yes\n# compression = none\n")
        let configuration = try load(["--config", quoted])
        XCTAssertEqual(configuration.destination, .directory(root: "/srv/wal"))
        XCTAssertTrue(configuration.legacyFlatLayout)
        XCTAssertEqual(configuration.compression, .default)
        XCTAssertEqual(configuration.compressionLevel, CompressionAlgorithm.default.defaultLevel)
    }

    func testCompressionSetting() throws {
        let directory = ["WAL_ARCHIVE_URL": "file:///srv"]
        let gzip = try load(["--compression", "gzip:9"], environment: directory)
        XCTAssertEqual(gzip.compression, .gzip)
        XCTAssertEqual(gzip.compressionLevel, 9)
        let zstd = try load(environment: directory.merging(["WAL_ARCHIVE_COMPRESSION": "ZSTD"]) { $1 })
        XCTAssertEqual(zstd.compression, .zstd)
        XCTAssertEqual(zstd.compressionLevel, CompressionAlgorithm.zstd.defaultLevel)
        XCTAssertEqual(try load(["--compression=none"], environment: directory).compression, CompressionAlgorithm.none)
        XCTAssertEqual(message { try self.load(["--compression", "lz4"], environment: directory) },
                       "invalid value `lz4` for --compression; expected one of none, gzip, zstd, optionally with :level")
        XCTAssertEqual(message { try self.load(["--compression", "gzip:10"], environment: directory) },
                       "invalid value `gzip:10` for --compression; expected gzip with a level from 1 to 9")
        XCTAssertEqual(message { try self.load(["--compression", "none:1"], environment: directory) },
                       "invalid value `none:1` for --compression; expected none with no level")
    }

    func testCommandOptionsTakeShortAndLongForms() throws {
        let own = [CommandOption("pgdata", short: "D"), CommandOption("wal-file")]
        for arguments in [["-D", "/data"], ["-D/data"], ["--pgdata", "/data"], ["--pgdata=/data"]] {
            let options = try CommandLineOptions.parse(arguments + ["--region", "r"], commandOptions: own)
            XCTAssertEqual(options.commandValues, ["pgdata": "/data"], "\(arguments)")
            XCTAssertEqual(options.values, ["region": "r"])
            XCTAssertEqual(options.arguments, [])
        }
        XCTAssertEqual(try CommandLineOptions.parse(["--wal-file", "x"], commandOptions: own).commandValues, ["wal-file": "x"])
        XCTAssertThrowsError(try CommandLineOptions.parse(["-D"], commandOptions: own)) {
            XCTAssertEqual($0 as? ConfigurationError, .missingOptionValue("-D"))
        }
        XCTAssertThrowsError(try CommandLineOptions.parse(["-X", "1"], commandOptions: own)) {
            XCTAssertEqual($0 as? ConfigurationError, .unknownOption("-X"))
        }
        XCTAssertThrowsError(try CommandLineOptions.parse(["--pgdata", "/data"]), "only where the command has it") {
            XCTAssertEqual($0 as? ConfigurationError, .unknownOption("--pgdata"))
        }
    }

    func testCommandLineForms() throws {
        let options = try CommandLineOptions.parse(["--url=s3://b", "--legacy-flat-layout", "a", "--region", "r", "--", "--b"])
        XCTAssertEqual(options.values, ["url": "s3://b", "legacy-flat-layout": "true", "region": "r"])
        XCTAssertEqual(options.arguments, ["a", "--b"])
        XCTAssertEqual(options.request, .run)
        XCTAssertEqual(try CommandLineOptions.parse(["--help"]).request, .help)
        XCTAssertEqual(try CommandLineOptions.parse(["x", "--version"]).request, .version)
        XCTAssertThrowsError(try CommandLineOptions.parse(["--region"])) {
            XCTAssertEqual(($0 as? ConfigurationError)?.message, "option --region needs a value; see --help")
        }
        XCTAssertThrowsError(try CommandLineOptions.parse(["-x"])) {
            XCTAssertEqual(($0 as? ConfigurationError)?.message, "unknown option -x; see --help")
        }
        XCTAssertThrowsError(try CommandLineOptions.parse(["--bucket=b"])) {
            XCTAssertEqual(($0 as? ConfigurationError)?.message, "unknown option --bucket; see --help")
        }
    }
}
