import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// `WAL_ARCHIVE_SSE`, `WAL_ARCHIVE_SSE_KMS_KEY_ID` and `WAL_ARCHIVE_SSE_C_KEY_FILE` from each
/// place a setting can come from, and their mistakes.
final class ServerSideEncryptionSettingsTests: XCTestCase {
    private let base = ["HOME": "/nonexistent-home", "WAL_ARCHIVE_CONFIG": "none", "WAL_ARCHIVE_URL": "s3://b/p",
                        "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"]

    private func encryption(_ arguments: [String] = [], _ environment: [String: String] = [:]) throws -> ServerSideEncryption? {
        let configuration = try Configuration.load(options: CommandLineOptions.parse(arguments),
                                                   environment: base.merging(environment) { $1 })
        guard case .s3(let settings) = configuration.destination else { return nil }
        return settings.serverSideEncryption
    }

    private func message(_ arguments: [String] = [], _ environment: [String: String] = [:]) -> String {
        do {
            _ = try encryption(arguments, environment)
            XCTFail("expected a configuration error")
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            XCTFail("unexpected \(error)")
        }
        return ""
    }

    private func keyFile(_ contents: [UInt8]) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/key"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(contents)))
        return path
    }

    func testModesFromOptionsEnvironmentAndConfigFile() throws {
        XCTAssertNil(try encryption())
        XCTAssertEqual(try encryption(["--sse", "AES256"]), .s3Managed)
        XCTAssertEqual(try encryption([], ["WAL_ARCHIVE_SSE": "aws:kms"]), .kms(keyID: nil))
        XCTAssertEqual(try encryption(["--sse=aws:kms", "--sse-kms-key-id", "alias/pg"]), .kms(keyID: "alias/pg"))
        let config = try makeTemporaryDirectory(self) + "/wal-archive.conf"
        try "sse = aws:kms\nsse_kms_key_id = arn:aws:kms:eu-west-1:1:key/k\n".write(toFile: config, atomically: true, encoding: .utf8)
        XCTAssertEqual(try encryption(["--config", config]), .kms(keyID: "arn:aws:kms:eu-west-1:1:key/k"))

        XCTAssertEqual(message(["--sse", "DES"]), "invalid value `DES` for --sse; expected AES256 or aws:kms")
        XCTAssertTrue(message([], ["WAL_ARCHIVE_SSE_KMS_KEY_ID": "alias/pg"]).contains("WAL_ARCHIVE_SSE=aws:kms, which is not set"))
        XCTAssertTrue(message(["--sse", "AES256", "--sse-kms-key-id", "k"]).contains("not AES256"))
    }

    func testCustomerKeysFromFilesOnlyOverHTTPSAndNeverShown() throws {
        let hex = String(repeating: "0123456789abcdef", count: 4)
        let fromHex = try encryption([], ["WAL_ARCHIVE_SSE_C_KEY_FILE": try keyFile(Array((hex + "\n").utf8))])
        XCTAssertEqual(fromHex, .customerKey(try XCTUnwrap(ServerSideEncryption.CustomerKey(key: Hex.decode(Array(hex.utf8)) ?? []))))
        let raw: [UInt8] = (0..<32).map { UInt8($0) }
        XCTAssertEqual(try encryption(["--sse-c-key-file", try keyFile(raw)]), .customerKey(try XCTUnwrap(ServerSideEncryption.CustomerKey(key: raw))))

        let short = message([], ["WAL_ARCHIVE_SSE_C_KEY_FILE": try keyFile(Array("0123abcd-secret-ish".utf8))])
        XCTAssertTrue(short.hasPrefix("invalid value for the file named by WAL_ARCHIVE_SSE_C_KEY_FILE"), short)
        XCTAssertFalse(short.contains("secret-ish"), short)
        XCTAssertTrue(message([], ["WAL_ARCHIVE_SSE_C_KEY_FILE": "/nonexistent/key"]).hasPrefix("cannot read the file named by"))
        let overHTTP = message([], ["WAL_ARCHIVE_SSE_C_KEY_FILE": try keyFile(raw), "WAL_ARCHIVE_ENDPOINT": "http://minio:9000"])
        XCTAssertTrue(overHTTP.contains("never sent over plain HTTP"), overHTTP)
        XCTAssertEqual(try encryption([], ["WAL_ARCHIVE_SSE_C_KEY_FILE": try keyFile(raw), "WAL_ARCHIVE_ENDPOINT": "https://minio:9000"]),
                       .customerKey(try XCTUnwrap(ServerSideEncryption.CustomerKey(key: raw))))
        XCTAssertTrue(message(["--sse", "AES256"], ["WAL_ARCHIVE_SSE_C_KEY_FILE": try keyFile(raw)]).hasPrefix("both --sse and"))
    }
}
