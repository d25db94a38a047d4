/// The EC2 instance profile's credentials through IMDSv2 only: a session token from
/// `PUT /latest/api/token`, then the role name and its credentials with that token. IMDSv1
/// (plain GETs) is never used: it is what SSRF attacks read credentials through, and
/// instances hardened with `HttpTokens=required` refuse it anyway.
///
/// Every request waits one second at most, once: a machine without metadata (a laptop, a
/// server outside EC2) must not make each `wal-push` wait, and on EC2 the endpoint answers in
/// well under a millisecond.
struct InstanceMetadataCredentials: TemporaryCredentialsSource {
    static let defaultEndpoint = "http://169.254.169.254"
    static let defaultIPv6Endpoint = "http://[fd00:ec2::254]"
    static let timeoutMilliseconds = 1_000
    /// Seconds the session token lives; we use it for three requests right away.
    static let tokenLifetimeSeconds = 60

    let endpoint: String
    let tried: String

    var cacheIdentity: String { ["instance-metadata", endpoint].joined(separator: "\n") }

    var name: String { "EC2 instance metadata at \(endpoint)" }

    func fetch() throws(StorageError) -> TemporaryCredentials {
        let client = try CurlClient(lowSpeedTimeoutSeconds: 1, caBundlePath: nil, bypassesProxy: true)
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        let token = try request(client, .put, base + "/latest/api/token",
                                [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenLifetimeSeconds))],
                                noAnswer: "no AWS credentials found: \(tried), and")
        let authorization = [("X-aws-ec2-metadata-token", token)]
        let roles = try request(client, .get, base + "/latest/meta-data/iam/security-credentials/", authorization,
                                noAnswer: "cannot read the instance's role:")
        guard let role = roles.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init), !role.isEmpty,
              !role.contains("/") else {
            throw .accessDenied(detail: "\(name): this instance has no IAM role (attach an instance profile)")
        }
        let answer = try request(client, .get, base + "/latest/meta-data/iam/security-credentials/" + role, authorization,
                                 noAnswer: "cannot read the credentials of role \(role):")
        guard let document = ContainerCredentials.members(Array(answer.utf8)) else {
            throw .invalidResponse(detail: "\(name) answered with something other than a JSON object")
        }
        if let code = ContainerCredentials.string(document["Code"]), code != "Success" {
            throw .accessDenied(detail: "\(name): the credentials of role \(role) are not available (\(code))")
        }
        return try ContainerCredentials.credentials(in: document, from: name)
    }

    private func request(_ client: CurlClient, _ method: CurlClient.Method, _ url: String,
                         _ headers: [(name: String, value: String)], noAnswer: String) throws(StorageError) -> String {
        let response: CurlClient.Response
        do {
            response = try client.perform(.init(method: method, url: url, headers: headers,
                                                upload: method == .put ? MemoryUploadBody([]) : nil,
                                                connectTimeoutMilliseconds: Self.timeoutMilliseconds,
                                                timeoutMilliseconds: Self.timeoutMilliseconds))
        } catch {
            switch error {
            case .stopped(let stopped): throw stopped
            case .transport(let detail, _):
                throw .accessDenied(detail: "\(noAnswer) \(name) did not answer (\(detail))")
            }
        }
        let status = response.head.status
        if status == 404 && url.hasSuffix("/security-credentials/") {
            throw .accessDenied(detail: "\(name): this instance has no IAM role (attach an instance profile)")
        }
        guard (200..<300).contains(status) else {
            throw .accessDenied(detail: "\(noAnswer) \(name) answered HTTP \(status)")
        }
        return String(decoding: response.body, as: UTF8.self)
    }
}
