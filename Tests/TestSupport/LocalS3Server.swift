import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import WALArchive

/// A local S3 server that checks every request's signature, started once per test process on
/// first use and stopped when the process exits (the server also exits by itself when its
/// parent dies). Tests share its bucket; each uses its own key prefix.
///
/// Two implementations, chosen with `WAL_ARCHIVE_TEST_S3` (`scripts/run-tests --s3 KIND`):
/// `moto` (default; `scripts/local-s3-server`, a mock of S3) and `rgw` (`scripts/rgw-server`,
/// Ceph's RADOS Gateway, a real S3 implementation with its own differences from AWS).
public final class LocalS3Server: @unchecked Sendable {
    public struct StartFailure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public enum Kind: String, CaseIterable, Sendable {
        case moto, rgw

        var script: String { self == .moto ? "scripts/local-s3-server" : "scripts/rgw-server" }

        var requirement: String {
            self == .moto ? "python3 with moto[server]" : "the Debian packages radosgw, ceph-mon and ceph-osd"
        }
    }

    /// The implementation `WAL_ARCHIVE_TEST_S3` names (default moto).
    public static func selectedKind() throws -> Kind {
        let name = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_S3"] ?? ""
        guard let kind = name.isEmpty ? .moto : Kind(rawValue: name) else {
            throw StartFailure(description: "WAL_ARCHIVE_TEST_S3=\(name): use one of "
                               + Kind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return kind
    }

    /// The shared server's bucket that belongs to another region (RGW only: another zonegroup),
    /// so that every request for it is answered 301 PermanentRedirect.
    public static let otherRegionBucket = (name: "wal-archive-test-elsewhere", region: "eu-central-1")

    public let kind: Kind
    public let endpoint: String
    public let region: String
    public let bucket: String
    public let credentials: S3Settings.Credentials
    /// Buckets of this server that live in another region, and that region.
    public let bucketsInOtherRegions: [String: String]
    /// An IAM role allowed s3:*, which STS AssumeRole (by `credentials`) and
    /// AssumeRoleWithWebIdentity (unsigned) hand out temporary keys for (moto only; empty for RGW).
    public let roleARN: String
    private let process: Process

    /// The shared server; throws (for every caller) if it could not be started.
    public static func shared() throws -> LocalS3Server {
        try sharedServer.get()
    }

    /// The shared server when it is moto, else a moto server of its own, started once: for tests
    /// of what only the moto launcher offers (STS for temporary keys, recorded STS calls, SSE
    /// as AWS enforces it).
    public static func sharedMoto() throws -> LocalS3Server {
        let shared = try sharedServer.get()
        return shared.kind == .moto ? shared : try sharedMotoServer.get()
    }

    private static let sharedMotoServer: Result<LocalS3Server, StartFailure> = {
        let result = Result { () throws(StartFailure) -> LocalS3Server in try LocalS3Server(kind: .moto, arguments: []) }
        if case .success = result {
            atexit { try? LocalS3Server.sharedMotoServer.get().stop() }
        }
        return result
    }()

    private static let sharedServer: Result<LocalS3Server, StartFailure> = {
        let result = Result { () throws(StartFailure) -> LocalS3Server in
            let kind: Kind
            do {
                kind = try selectedKind()
            } catch {
                throw error as? StartFailure ?? StartFailure(description: "\(error)")
            }
            let arguments = kind == .rgw
                ? ["--bucket-in-region", "\(otherRegionBucket.name)=\(otherRegionBucket.region)"] : []
            return try LocalS3Server(kind: kind, arguments: arguments)
        }
        if case .success = result {
            atexit { try? LocalS3Server.sharedServer.get().stop() }
        }
        return result
    }()

    /// A moto server of its own speaking HTTPS with a new self-signed certificate for 127.0.0.1,
    /// and the certificate's path (the CA bundle that trusts it). Stop it when done.
    public static func startWithSelfSignedCertificate(in directory: String) throws -> (server: LocalS3Server, certificate: String) {
        let certificate = directory + "/cert.pem", privateKey = directory + "/key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", privateKey, "-out", certificate]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw StartFailure(description: "openssl could not make a self-signed certificate (exit \(openssl.terminationStatus))") }
        return (try start(arguments: ["--tls-cert", certificate, "--tls-key", privateKey]), certificate)
    }

    /// A server of the caller's own (e.g. moto over HTTPS with `--tls-cert`/`--tls-key`); the
    /// caller stops it.
    public static func start(_ kind: Kind = .moto, arguments: [String]) throws -> LocalS3Server {
        try LocalS3Server(kind: kind, arguments: arguments)
    }

    private init(kind: Kind, arguments: [String]) throws(StartFailure) {
        let script = TestPaths.packageRoot.appendingPathComponent(kind.script)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(kind)-s3-server-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = Pipe()
        let process = Process()
        process.executableURL = script
        process.arguments = arguments + ["wal-archive-test"]
        process.standardOutput = output
        process.standardError = try? FileHandle(forWritingTo: log)
        do {
            try process.run()
        } catch {
            throw StartFailure(description: "cannot run \(script.path): \(error) (is \(kind.requirement) installed?)")
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        struct Ready: Decodable {
            var endpoint: String
            var region: String
            var access_key_id: String
            var secret_access_key: String
            var buckets: [String]
            var buckets_in_other_regions: [String: String]?
            var role_arn: String?
        }
        guard let ready = try? JSONDecoder().decode(Ready.self, from: line), let bucket = ready.buckets.first else {
            process.terminate()
            let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw StartFailure(description: "\(kind.script) did not start: \(stderr.suffix(3000))")
        }
        self.kind = kind
        self.process = process
        endpoint = ready.endpoint
        region = ready.region
        self.bucket = bucket
        credentials = .init(accessKeyID: ready.access_key_id, secretAccessKey: ready.secret_access_key)
        bucketsInOtherRegions = ready.buckets_in_other_regions ?? [:]
        roleARN = ready.role_arn ?? ""
    }

    /// One STS call the server answered.
    public struct STSCall: Decodable, Sendable, Equatable {
        public var action: String
        public var role_arn: String
        public var session_name: String
        public var token: String
    }

    /// From now on S3 answers requests with this session token `400 ExpiredToken`.
    public func expireSessionToken(_ token: String) throws {
        var request = URLRequest(url: URL(string: endpoint + "/_wal_archive_test/expired-session-tokens")!)
        request.httpMethod = "PUT"
        request.httpBody = Data(token.utf8)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?
        URLSession.shared.dataTask(with: request) { _, response, error in
            failure = error ?? ((response as? HTTPURLResponse)?.statusCode == 204 ? nil : URLError(.badServerResponse))
            done.signal()
        }.resume()
        done.wait()
        if let failure { throw failure }
    }

    /// Every STS call this server answered so far, oldest first.
    public func stsCalls() throws -> [STSCall] {
        let data = try Data(contentsOf: URL(string: endpoint + "/_wal_archive_test/sts-calls")!)
        return try JSONDecoder().decode([STSCall].self, from: data)
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Settings reaching the shared bucket (path style, plain HTTP), with short retry
    /// limits so failing tests fail quickly.
    public func settings(credentials: S3Settings.Credentials? = nil, source: CredentialSource? = nil, endpoint: String? = nil,
                         bucket: String? = nil, connectTimeoutSeconds: Int = 5, lowSpeedTimeoutSeconds: Int = 10,
                         retryBudgetSeconds: Int = 10, maxAttempts: Int = 3) -> S3Settings {
        S3Settings(bucket: bucket ?? self.bucket, endpoint: endpoint ?? self.endpoint, region: region,
                   credentials: source ?? .keys(credentials ?? self.credentials, origin: "the test"), pathStyle: true,
                   connectTimeoutSeconds: connectTimeoutSeconds, lowSpeedTimeoutSeconds: lowSpeedTimeoutSeconds,
                   retryBudgetSeconds: retryBudgetSeconds, maxAttempts: maxAttempts)
    }

    /// A key prefix no other test uses, e.g. `test-listing-3F2A…/`.
    public func uniquePrefix(_ label: String) -> String {
        "test-\(label)-\(UUID().uuidString)/"
    }
}
