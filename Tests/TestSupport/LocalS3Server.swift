import Foundation
import WALArchive

/// The signature-checking local S3 (`scripts/local-s3-server`, moto), started once per test
/// process on first use and stopped when the process exits (the server also exits by itself
/// when its parent dies). Tests share its bucket; each uses its own key prefix.
public final class LocalS3Server: @unchecked Sendable {
    public struct StartFailure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public let endpoint: String
    public let region: String
    public let bucket: String
    public let credentials: S3Settings.Credentials
    private let process: Process

    /// The shared server; throws (for every caller) if it could not be started.
    public static func shared() throws -> LocalS3Server {
        try sharedServer.get()
    }

    private static let sharedServer: Result<LocalS3Server, StartFailure> = {
        let result = Result { () throws(StartFailure) -> LocalS3Server in try LocalS3Server() }
        if case .success = result {
            atexit { try? LocalS3Server.sharedServer.get().stop() }
        }
        return result
    }()

    /// A server of the caller's own (e.g. HTTPS with `--tls-cert`/`--tls-key`); the caller
    /// stops it.
    public static func start(arguments: [String]) throws -> LocalS3Server {
        try LocalS3Server(arguments: arguments)
    }

    private init(arguments: [String] = []) throws(StartFailure) {
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/local-s3-server")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("local-s3-server-\(UUID().uuidString).log")
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
            throw StartFailure(description: "cannot run \(script.path): \(error) (is python3 with moto[server] installed?)")
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
        }
        guard let ready = try? JSONDecoder().decode(Ready.self, from: line), let bucket = ready.buckets.first else {
            process.terminate()
            let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw StartFailure(description: "local S3 server did not start: \(stderr.suffix(2000))")
        }
        self.process = process
        endpoint = ready.endpoint
        region = ready.region
        self.bucket = bucket
        credentials = .init(accessKeyID: ready.access_key_id, secretAccessKey: ready.secret_access_key)
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Settings reaching the shared bucket (path style, plain HTTP), with short retry
    /// limits so failing tests fail quickly.
    public func settings(credentials: S3Settings.Credentials? = nil, endpoint: String? = nil,
                         connectTimeoutSeconds: Int = 5, lowSpeedTimeoutSeconds: Int = 10,
                         retryBudgetSeconds: Int = 10, maxAttempts: Int = 3) -> S3Settings {
        S3Settings(bucket: bucket, endpoint: endpoint ?? self.endpoint, region: region,
                   credentials: credentials ?? self.credentials, pathStyle: true,
                   connectTimeoutSeconds: connectTimeoutSeconds, lowSpeedTimeoutSeconds: lowSpeedTimeoutSeconds,
                   retryBudgetSeconds: retryBudgetSeconds, maxAttempts: maxAttempts)
    }

    /// A key prefix no other test uses, e.g. `test-listing-3F2A…/`.
    public func uniquePrefix(_ label: String) -> String {
        "test-\(label)-\(UUID().uuidString)/"
    }
}
