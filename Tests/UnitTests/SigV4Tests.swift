import Foundation
import XCTest
@testable import WALArchive

/// Runs the S3 documentation's worked examples and the AWS SigV4 test suite (see
/// Fixtures/sigv4/SOURCE.md) through `SigV4Signer`, comparing canonical request, string to
/// sign and signature byte for byte, and what goes on the wire: the whole signed request of
/// the suite (every header the signer adds, Authorization with its Credential= and
/// SignedHeaders=), and the documented Authorization header of the S3 examples.
final class SigV4Tests: XCTestCase {
    private static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/sigv4")

    func testS3DocumentationExamples() throws {
        let cases = try Self.loadCases(in: "s3-examples")
        XCTAssertEqual(cases.map(\.name), ["get-bucket-lifecycle", "get-object-range", "list-objects",
                                           "put-object-storage-class"])
        for testCase in cases {
            try assertMatches(testCase, normalizePath: false)
        }
        let putPayload = SHA256Hasher.hash("Welcome to Amazon S3.".utf8).hexString
        XCTAssertEqual(try Self.loadCase("s3-examples/put-object-storage-class").payloadHash, putPayload)
    }

    /// aws-c-auth's harness treats the `request.txt` path as the path on the wire and encodes
    /// it once more ("double encoding"); the signer takes unencoded paths, so the same
    /// canonical URI comes from one encoding (no case's path contains `%`).
    func testAWSSuiteAsItsOwnHarnessRunsIt() throws {
        let cases = try Self.loadCases(in: "aws-c-auth-v4")
        XCTAssertEqual(cases.count, 38)
        XCTAssertFalse(cases.contains { $0.request.path.contains("%") })
        for testCase in cases {
            try assertMatches(testCase, normalizePath: testCase.normalize)
        }
    }

    /// S3 neither normalizes nor double-encodes: every case whose path is not normalized by
    /// the suite must also pass with the default rules, and every case that relies on
    /// normalization must not.
    func testAWSSuiteUnderS3Rules() throws {
        var matched = 0
        var refused = 0
        for testCase in try Self.loadCases(in: "aws-c-auth-v4") {
            let expectedPath = testCase.expectedCanonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[1]
            if SigV4Signer.uriEncode(testCase.request.path, keepSlash: true) == expectedPath {
                try assertMatches(testCase, normalizePath: false)
                matched += 1
            } else {
                XCTAssertTrue(testCase.normalize, testCase.name)
                XCTAssertNotEqual(try sign(testCase, normalizePath: false).signature, testCase.expectedSignature, testCase.name)
                refused += 1
            }
        }
        XCTAssertEqual(matched, 32)
        XCTAssertEqual(refused, 6)
    }

    func testSigningKeyCacheFollowsTheDate() throws {
        let testCase = try Self.loadCase("s3-examples/get-object-range")
        let signer = SigV4Signer(credentials: testCase.credentials, region: "us-east-1")
        let first = try signer.sign(testCase.request, at: testCase.time).signature
        let nextDay = try signer.sign(testCase.request, at: UTCTime(secondsSinceEpoch: testCase.time.secondsSinceEpoch + 86_400))
        XCTAssertNotEqual(nextDay.signature, first)
        XCTAssertEqual(try SigV4Signer(credentials: testCase.credentials, region: "us-east-1")
            .sign(testCase.request, at: UTCTime(secondsSinceEpoch: testCase.time.secondsSinceEpoch + 86_400)).signature,
            nextDay.signature)
        XCTAssertEqual(try signer.sign(testCase.request, at: testCase.time).signature, first)
    }

    func testUnsignedPayloadAndSessionTokenHeaders() throws {
        let credentials = S3Settings.Credentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token")
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let request = SigV4Signer.Request(method: "PUT", path: "/bucket/a b+c", headers: [("host", "h")],
                                          payloadHash: SigV4Signer.unsignedPayload)
        let signed = try signer.sign(request, at: UTCTime(secondsSinceEpoch: 0))
        XCTAssertEqual(signed.encodedPath, "/bucket/a%20b%2Bc")
        XCTAssertTrue(signed.canonicalRequest.hasSuffix("\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD"))
        let added = Dictionary(uniqueKeysWithValues: signed.addedHeaders.map { ($0.name, $0.value) })
        XCTAssertEqual(added["x-amz-content-sha256"], "UNSIGNED-PAYLOAD")
        XCTAssertEqual(added["x-amz-security-token"], "token")
        XCTAssertEqual(added["Authorization"], "AWS4-HMAC-SHA256 Credential=AKID/19700101/eu-west-1/s3/aws4_request, "
                       + "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=\(signed.signature)")
    }

    // MARK: - Running one case

    private func sign(_ testCase: SigningCase, normalizePath: Bool) throws -> SigV4Signer.Signature {
        let signer = SigV4Signer(credentials: testCase.credentials, region: testCase.region, service: testCase.service,
                                 normalizePath: normalizePath)
        return try signer.sign(testCase.request, at: testCase.time, sendContentHash: testCase.signBody,
                           signSessionToken: !testCase.omitSessionToken)
    }

    /// Everything the case's fixtures give for `signed`, next to what the signer produced: one
    /// comparison shows every part that differs.
    private func assertMatches(_ testCase: SigningCase, normalizePath: Bool,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let signed = try sign(testCase, normalizePath: normalizePath)
        var expected = ["canonical request": testCase.expectedCanonicalRequest,
                        "string to sign": testCase.expectedStringToSign, "signature": testCase.expectedSignature]
        var actual = ["canonical request": signed.canonicalRequest, "string to sign": signed.stringToSign,
                      "signature": signed.signature]
        if let signedRequest = testCase.expectedSignedRequest {
            expected["signed request"] = signedRequest.normalized
            actual["signed request"] = RawHTTPRequest(requestLine: testCase.rawRequest.requestLine,
                                                      headers: testCase.rawRequest.headers + signed.addedHeaders,
                                                      body: testCase.rawRequest.body).normalized
        }
        let authorization = signed.addedHeaders.first { $0.name == "Authorization" }?.value ?? ""
        if let documented = testCase.expectedAuthorization {
            expected["authorization"] = Self.authorizationFields(documented)
            actual["authorization"] = Self.authorizationFields(authorization)
        }
        XCTAssertEqual(actual, expected, testCase.name, file: file, line: line)
        XCTAssertTrue(testCase.expectedSignedRequest != nil || testCase.expectedAuthorization != nil,
                      "\(testCase.name): nothing to compare the Authorization header with", file: file, line: line)
    }

    /// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` with its fields one per
    /// line: the AWS page writes no space after the commas, signers write one, S3 takes both.
    private static func authorizationFields(_ value: String) -> String {
        guard let space = value.firstIndex(of: " ") else { return value }
        return ([String(value[..<space])] + value[value.index(after: space)...].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }).joined(separator: "\n")
    }

    // MARK: - Fixture parsing

    private struct SigningCase {
        var name: String
        var credentials: S3Settings.Credentials
        var region: String
        var service: String
        var time: UTCTime
        var normalize: Bool
        var signBody: Bool
        var omitSessionToken: Bool
        var request: SigV4Signer.Request
        var rawRequest: RawHTTPRequest
        var payloadHash: String
        var expectedCanonicalRequest: String
        var expectedStringToSign: String
        var expectedSignature: String
        /// `header-signed-request.txt` (the aws-c-auth suite).
        var expectedSignedRequest: RawHTTPRequest?
        /// `header-authorization.txt` (the S3 documentation's examples).
        var expectedAuthorization: String?
    }

    /// A raw HTTP request as the suites write it: request line with an unencoded target,
    /// `name:value` headers (continuation lines start with blanks and are joined to their
    /// header), blank line, body.
    private struct RawHTTPRequest {
        var requestLine: String
        var headers: [(name: String, value: String)]
        var body: String

        init(requestLine: String, headers: [(name: String, value: String)], body: String) {
            self.requestLine = requestLine
            self.headers = headers
            self.body = body
        }

        init(parsing raw: String) {
            var lines = raw.components(separatedBy: "\n")
            while lines.first == "" { lines.removeFirst() }
            requestLine = lines.isEmpty ? "" : lines.removeFirst()
            headers = []
            while let line = lines.first, !line.isEmpty {
                lines.removeFirst()
                if line.first == " " || line.first == "\t", !headers.isEmpty {
                    headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                    continue
                }
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((name: String(line[..<colon]),
                                value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
            body = lines.dropFirst().joined(separator: "\n")
        }

        /// Request line, headers as `name:value` with the name lower-cased (HTTP header names
        /// are case-insensitive) in sorted order (the suite lists the session token before the
        /// date, the signer after it), blank line, body.
        var normalized: String {
            ([requestLine] + headers.map { $0.name.lowercased() + ":" + $0.value }.sorted() + ["", body])
                .joined(separator: "\n")
        }
    }

    private struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }
        var credentials: Credentials
        var region: String
        var service: String
        var timestamp: String
        var normalize: Bool
        var sign_body: Bool
        var omit_session_token: Bool?
    }

    private static func loadCases(in folder: String) throws -> [SigningCase] {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent(folder).path)
            .filter { !["LICENSE", "NOTICE"].contains($0) }
            .sorted()
        return try names.map { try loadCase(folder + "/" + $0) }
    }

    private static func loadCase(_ path: String) throws -> SigningCase {
        let folder = fixtures.appendingPathComponent(path)
        func text(_ name: String) throws -> String {
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        }
        let context = try JSONDecoder().decode(Context.self, from: Data(try text("context.json").utf8))
        guard let date = ISO8601DateFormatter().date(from: context.timestamp) else {
            throw NSError(domain: "SigV4Tests", code: 1, userInfo: [NSLocalizedDescriptionKey: "bad timestamp in \(path)"])
        }
        func optionalText(_ name: String) throws -> String? {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) ? try text(name) : nil
        }
        let rawRequest = RawHTTPRequest(parsing: try text("request.txt"))
        var (request, body) = try parseRequest(rawRequest, in: path)
        var payloadHash = SigV4Signer.emptyPayloadHash
        if let index = request.headers.firstIndex(where: { $0.name.lowercased() == "x-amz-content-sha256" }) {
            payloadHash = request.headers.remove(at: index).value.trimmingCharacters(in: .whitespaces)
        } else if context.sign_body {
            payloadHash = SHA256Hasher.hash(body.utf8).hexString
        }
        request.payloadHash = payloadHash
        return SigningCase(
            name: path.split(separator: "/").last.map(String.init) ?? path,
            credentials: .init(accessKeyID: context.credentials.access_key_id,
                               secretAccessKey: context.credentials.secret_access_key,
                               sessionToken: context.credentials.token),
            region: context.region, service: context.service,
            time: UTCTime(secondsSinceEpoch: Int64(date.timeIntervalSince1970)),
            normalize: context.normalize, signBody: context.sign_body,
            omitSessionToken: context.omit_session_token ?? false,
            request: request, rawRequest: rawRequest, payloadHash: payloadHash,
            expectedCanonicalRequest: try text("header-canonical-request.txt"),
            expectedStringToSign: try text("header-string-to-sign.txt"),
            expectedSignature: try text("header-signature.txt"),
            expectedSignedRequest: try optionalText("header-signed-request.txt").map(RawHTTPRequest.init(parsing:)),
            expectedAuthorization: try optionalText("header-authorization.txt"))
    }

    /// The signer's input from a raw request: the target split into unencoded path and query,
    /// without the headers the signer adds itself (date, Authorization placeholder).
    private static func parseRequest(_ raw: RawHTTPRequest, in path: String) throws -> (SigV4Signer.Request, String) {
        let requestLine = raw.requestLine
        guard let space = requestLine.firstIndex(of: " "), let version = requestLine.range(of: " HTTP/", options: .backwards) else {
            throw NSError(domain: "SigV4Tests", code: 2, userInfo: [NSLocalizedDescriptionKey: "bad request line in \(path)"])
        }
        let method = String(requestLine[..<space])
        let target = String(requestLine[requestLine.index(after: space)..<version.lowerBound])
        let headers = raw.headers.filter { !["authorization", "x-amz-date"].contains($0.name.lowercased()) }
        let body = raw.body

        var rawPath = target
        var query: [(name: String, value: String)] = []
        if let mark = target.firstIndex(of: "?") {
            rawPath = String(target[..<mark])
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
                query.append((name: name, value: value))
            }
        }
        if !rawPath.isEmpty && !rawPath.hasPrefix("/") { rawPath = "/" + rawPath }
        return (SigV4Signer.Request(method: method, path: rawPath, query: query, headers: headers, payloadHash: ""), body)
    }
}
