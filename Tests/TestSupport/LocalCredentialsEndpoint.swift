import Foundation
import Glibc

/// A small HTTP server on 127.0.0.1 speaking the two credential protocols of the chain, as
/// documented by AWS, and counting what it is asked:
/// - EC2 instance metadata, IMDSv2 only: `PUT /latest/api/token` with
///   `X-aws-ec2-metadata-token-ttl-seconds` gives a session token; `GET
///   /latest/meta-data/iam/security-credentials/[role]` needs it in `X-aws-ec2-metadata-token`
///   (a GET without it, as IMDSv1 would send, is refused with 401);
/// - the ECS/EKS container endpoint: `GET <containerPath>`, with `Authorization` equal to
///   `containerAuthorization` when that is set (else 401).
/// Both answer with the JSON of `served`. One connection at a time, `Connection: close`.
public final class LocalCredentialsEndpoint: @unchecked Sendable {
    public struct Served: Sendable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?
        public var expiration: Date

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String?, expiration: Date) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
            self.expiration = expiration
        }
    }

    public static let roleName = "wal-archive-instance-role"
    public static let containerPath = "/v2/credentials/wal-archive-task"

    public let port: UInt16
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    public var containerURL: String { endpoint + Self.containerPath }

    private let listener: Int32
    private let lock = NSLock()
    private var servedValue: Served
    private var authorization: String?
    private var issuedTokens: Set<String> = []
    private var counts: [String: Int] = [:]
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    public init(serving served: Served, containerAuthorization: String? = nil) throws {
        servedValue = served
        authorization = containerAuthorization
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        self.listener = listener
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    deinit { stop() }

    /// What the endpoints hand out from now on.
    public var served: Served {
        get { lock.withLock { servedValue } }
        set { lock.withLock { servedValue = newValue } }
    }

    public var containerAuthorization: String? {
        get { lock.withLock { authorization } }
        set { lock.withLock { authorization = newValue } }
    }

    /// Requests answered, by kind: `token` (IMDSv2 session token PUTs), `role` (the role name),
    /// `metadata-credentials`, `imdsv1-refused`, `container`, `container-refused`.
    public func count(_ kind: String) -> Int { lock.withLock { counts[kind, default: 0] } }

    public func resetCounts() { lock.withLock { counts = [:] } }

    public func stop() {
        let wasRunning: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard wasRunning else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        finished.wait()
    }

    private func serve() {
        defer { finished.signal() }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !data.containsHeaderEnd {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            data.append(contentsOf: buffer[..<count])
        }
        let head = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        let method = String(requestLine[0]), path = String(requestLine[1])
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let (status, body) = answer(method: method, path: path, headers: headers)
        let response = "HTTP/1.1 \(status)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        let bytes = Array(response.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            offset += written
        }
    }

    private func answer(method: String, path: String, headers: [String: String]) -> (String, String) {
        lock.lock()
        defer { lock.unlock() }
        let credentialsPath = "/latest/meta-data/iam/security-credentials/"
        if method == "PUT" && path == "/latest/api/token" {
            guard let ttl = headers["x-aws-ec2-metadata-token-ttl-seconds"], let seconds = Int(ttl), (1...21_600).contains(seconds) else {
                return ("400 Bad Request", "")
            }
            counts["token", default: 0] += 1
            let token = "imds-session-" + UUID().uuidString
            issuedTokens.insert(token)
            return ("200 OK", token)
        }
        if method == "GET" && path.hasPrefix(credentialsPath) {
            guard let token = headers["x-aws-ec2-metadata-token"], issuedTokens.contains(token) else {
                counts["imdsv1-refused", default: 0] += 1
                return ("401 Unauthorized", "")
            }
            let role = String(path.dropFirst(credentialsPath.count))
            if role.isEmpty {
                counts["role", default: 0] += 1
                return ("200 OK", Self.roleName)
            }
            guard role == Self.roleName else { return ("404 Not Found", "") }
            counts["metadata-credentials", default: 0] += 1
            return ("200 OK", json(code: true))
        }
        if method == "GET" && path == Self.containerPath {
            if let authorization, headers["authorization"] != authorization {
                counts["container-refused", default: 0] += 1
                return ("401 Unauthorized", #"{"code":"AccessDenied","message":"Authorization token is not valid"}"#)
            }
            counts["container", default: 0] += 1
            return ("200 OK", json(code: false))
        }
        return ("404 Not Found", "")
    }

    private func json(code: Bool) -> String {
        let formatter = ISO8601DateFormatter()
        var fields: [String: String] = ["AccessKeyId": servedValue.accessKeyID, "SecretAccessKey": servedValue.secretAccessKey,
                                        "Expiration": formatter.string(from: servedValue.expiration)]
        if let token = servedValue.sessionToken { fields["Token"] = token }
        if code {
            fields["Code"] = "Success"
            fields["Type"] = "AWS-HMAC"
            fields["LastUpdated"] = formatter.string(from: Date())
        } else {
            fields["RoleArn"] = "arn:aws:iam::123456789012:role/wal-archive-task"
        }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

private extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        count >= 4 && indices.dropLast(3).contains { self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10 }
    }
}
