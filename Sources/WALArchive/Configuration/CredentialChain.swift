/// Picks where the keys come from, in the order of the AWS SDKs' default chain, stopping at
/// the first source that is configured (docs/credentials.md):
///
/// 1. keys given in the settings: options, environment (`AWS_ACCESS_KEY_ID`,
///    `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, their `*_FILE` forms), config file;
/// 2. web identity from the environment: `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`
///    (and `AWS_ROLE_SESSION_NAME`), through STS AssumeRoleWithWebIdentity;
/// 3. the profile (`--profile`, `AWS_PROFILE`, else `default`) in the shared files: static
///    keys, `role_arn` with `source_profile` / `credential_source` (STS AssumeRole), or
///    `role_arn` with `web_identity_token_file`;
/// 4. the container endpoint: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`;
/// 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.
///
/// Only local facts are read here (variables, the shared files); nothing is fetched. A
/// source that is configured but broken (a profile naming a missing source profile, a token
/// file without a role) is an error, not a reason to fall through to the next one: falling
/// through would use other keys than the ones the operator set up.
enum CredentialChain {
    static let containerHost = "http://169.254.170.2"

    static func resolve(resolver: SettingResolver, environment: [String: String], files: SharedCredentialsFiles,
                        region: String) throws(ConfigurationError) -> CredentialSource {
        let accessKey = try resolver.value(.accessKeyID)
        let secretKey = try resolver.value(.secretAccessKey)
        if accessKey != nil || secretKey != nil {
            guard let accessKey else {
                throw .missingSetting(name: "AWS_ACCESS_KEY_ID", howToSet: ConfigurationSetting.accessKeyID.howToSet,
                                      purpose: "the access key of the bucket's credentials")
            }
            guard let secretKey else {
                throw .missingSetting(name: "AWS_SECRET_ACCESS_KEY", howToSet: ConfigurationSetting.secretAccessKey.howToSet,
                                      purpose: "the secret key of the bucket's credentials")
            }
            return .keys(.init(accessKeyID: accessKey.value, secretAccessKey: secretKey.value,
                               sessionToken: try resolver.value(.sessionToken)?.value),
                         origin: accessKey.origin)
        }

        let stsEndpoint = try Self.stsEndpoint(environment: environment, region: region)
        if let tokenFile = nonEmpty(environment["AWS_WEB_IDENTITY_TOKEN_FILE"]) {
            guard let roleARN = nonEmpty(environment["AWS_ROLE_ARN"]) else {
                throw .missingSetting(name: "AWS_ROLE_ARN", howToSet: "AWS_ROLE_ARN",
                                      purpose: "the role to assume with the token in AWS_WEB_IDENTITY_TOKEN_FILE")
            }
            return .webIdentity(.init(roleARN: roleARN, sessionName: nonEmpty(environment["AWS_ROLE_SESSION_NAME"]),
                                      tokenFile: tokenFile, stsEndpoint: stsEndpoint, origin: "AWS_WEB_IDENTITY_TOKEN_FILE"))
        }

        let chosenProfile = try resolver.value(.profile)
        let profileName = chosenProfile?.value ?? "default"
        if let source = try profileSource(profileName, files: files, environment: environment, stsEndpoint: stsEndpoint,
                                          visited: []) {
            return source
        }
        if let chosenProfile {
            throw .invalidValue(origin: chosenProfile.origin, shown: chosenProfile.value,
                                expected: "a profile with credentials in \(files.locations)")
        }

        if let container = try containerEndpoint(environment: environment) {
            return .container(container)
        }

        let tried = "no access key is set (\(ConfigurationSetting.accessKeyID.howToSet)), no web identity "
            + "(AWS_WEB_IDENTITY_TOKEN_FILE), no profile `default` in \(files.locations), no container endpoint "
            + "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)"
        if nonEmpty(environment["AWS_EC2_METADATA_DISABLED"])?.lowercased() == "true" {
            throw .noCredentials(tried: tried + ", and EC2 instance metadata is off (AWS_EC2_METADATA_DISABLED)")
        }
        return .instanceMetadata(endpoint: try metadataEndpoint(environment: environment), tried: tried)
    }

    /// `AWS_ENDPOINT_URL_STS`, else the region's own STS endpoint.
    static func stsEndpoint(environment: [String: String], region: String) throws(ConfigurationError) -> String {
        guard let value = nonEmpty(environment["AWS_ENDPOINT_URL_STS"]) else {
            return SecurityTokenService.regionalEndpoint(region: region)
        }
        return try httpURL(value, origin: "AWS_ENDPOINT_URL_STS", pathAllowed: false)
    }

    private static func profileSource(_ name: String, files: SharedCredentialsFiles, environment: [String: String],
                                      stsEndpoint: String, visited: [String]) throws(ConfigurationError) -> CredentialSource? {
        guard let profile = files.profile(name) else { return nil }
        let anyProperty = profile.values.min { $0.line < $1.line }
        let origin = "profile `\(name)` in \(anyProperty?.path ?? files.locations)"
        func fail(_ property: SharedCredentialsFiles.Property?, _ detail: String) -> ConfigurationError {
            .configFileSyntax(path: property?.path ?? files.credentialsPath, line: property?.line ?? 0,
                              detail: "profile `\(name)`: \(detail)")
        }
        let staticKeys: CredentialSource? = {
            guard let accessKey = nonEmpty(profile["aws_access_key_id"]?.value),
                  let secretKey = nonEmpty(profile["aws_secret_access_key"]?.value) else { return nil }
            return .keys(.init(accessKeyID: accessKey, secretAccessKey: secretKey,
                               sessionToken: nonEmpty(profile["aws_session_token"]?.value)), origin: origin)
        }()

        if let roleProperty = profile["role_arn"], let roleARN = nonEmpty(roleProperty.value) {
            let sessionName = nonEmpty(profile["role_session_name"]?.value)
            if let tokenFile = nonEmpty(profile["web_identity_token_file"]?.value) {
                return .webIdentity(.init(roleARN: roleARN, sessionName: sessionName, tokenFile: tokenFile,
                                          stsEndpoint: stsEndpoint, origin: origin))
            }
            let signing: CredentialSource
            if let sourceProperty = profile["source_profile"], let sourceName = nonEmpty(sourceProperty.value) {
                if sourceName == name {
                    // A profile that is its own source signs with its own static keys.
                    guard let staticKeys else {
                        throw fail(sourceProperty, "it is its own source_profile but has no aws_access_key_id and aws_secret_access_key")
                    }
                    signing = staticKeys
                } else {
                    guard !visited.contains(sourceName) else {
                        throw fail(sourceProperty, "source_profile `\(sourceName)` leads back to itself")
                    }
                    guard let source = try profileSource(sourceName, files: files, environment: environment,
                                                         stsEndpoint: stsEndpoint, visited: visited + [name]) else {
                        throw fail(sourceProperty, "source_profile `\(sourceName)` is not a profile with credentials in \(files.locations)")
                    }
                    signing = source
                }
            } else if let sourceProperty = profile["credential_source"] {
                switch sourceProperty.value {
                case "Environment":
                    guard let accessKey = nonEmpty(environment["AWS_ACCESS_KEY_ID"]),
                          let secretKey = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) else {
                        throw fail(sourceProperty, "credential_source Environment needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
                    }
                    signing = .keys(.init(accessKeyID: accessKey, secretAccessKey: secretKey,
                                          sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"])), origin: "AWS_ACCESS_KEY_ID")
                case "EcsContainer":
                    guard let container = try containerEndpoint(environment: environment) else {
                        throw fail(sourceProperty, "credential_source EcsContainer needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI")
                    }
                    signing = .container(container)
                case "Ec2InstanceMetadata":
                    signing = .instanceMetadata(endpoint: try metadataEndpoint(environment: environment),
                                                tried: "credential_source Ec2InstanceMetadata of \(origin)")
                default:
                    throw fail(sourceProperty, "credential_source must be Environment, EcsContainer or Ec2InstanceMetadata")
                }
            } else {
                throw fail(roleProperty, "role_arn needs source_profile, credential_source or web_identity_token_file")
            }
            var duration: Int?
            if let property = profile["duration_seconds"] {
                guard let seconds = Int(property.value), (900...43_200).contains(seconds) else {
                    throw fail(property, "duration_seconds must be a whole number from 900 to 43200")
                }
                duration = seconds
            }
            return .assumedRole(.init(roleARN: roleARN, sessionName: sessionName,
                                      externalID: nonEmpty(profile["external_id"]?.value), durationSeconds: duration,
                                      stsEndpoint: stsEndpoint, source: signing, origin: origin))
        }
        if let property = profile["web_identity_token_file"] {
            throw fail(property, "web_identity_token_file needs role_arn")
        }
        if let staticKeys { return staticKeys }
        for unsupported in ["credential_process", "sso_session", "sso_start_url"] {
            if let property = profile[unsupported] {
                throw fail(property, "\(unsupported) is not supported; export keys for it "
                           + "(e.g. `aws configure export-credentials --format env`) or use a role")
            }
        }
        return nil
    }

    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on the ECS agent's address) or `_FULL_URI`,
    /// with the authorization token's file or value.
    private static func containerEndpoint(environment: [String: String]) throws(ConfigurationError) -> ContainerEndpoint? {
        let url: String
        if let relative = nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) {
            url = containerHost + (relative.hasPrefix("/") ? relative : "/" + relative)
        } else if let full = nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]) {
            url = try httpURL(full, origin: "AWS_CONTAINER_CREDENTIALS_FULL_URI", pathAllowed: true)
            // As in the SDKs: credentials travel in clear only to the container agents'
            // link-local addresses or to this machine.
            if url.hasPrefix("http://") {
                let authority = String(url.dropFirst(7).prefix { $0 != "/" })
                guard isLocalOrAgent(authority) else {
                    throw .invalidValue(origin: "AWS_CONTAINER_CREDENTIALS_FULL_URI", shown: full,
                                        expected: "https://…, or http:// to a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23")
                }
            }
        } else {
            return nil
        }
        return ContainerEndpoint(url: url, authorizationTokenFile: nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]),
                                 authorizationToken: nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]))
    }

    private static func isLocalOrAgent(_ authority: String) -> Bool {
        var host = authority
        if host.hasPrefix("[") {
            host = String(host.dropFirst().prefix { $0 != "]" })
            return host == "::1" || host == "fd00:ec2::23"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        return host == "localhost" || host.hasPrefix("127.") || host == "169.254.170.2" || host == "169.254.170.23"
    }

    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the IPv4 or (with
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`) IPv6 link-local address.
    static func metadataEndpoint(environment: [String: String]) throws(ConfigurationError) -> String {
        if let value = nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]) {
            return try httpURL(value, origin: "AWS_EC2_METADATA_SERVICE_ENDPOINT", pathAllowed: false)
        }
        if nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"])?.lowercased() == "ipv6" {
            return InstanceMetadataCredentials.defaultIPv6Endpoint
        }
        return InstanceMetadataCredentials.defaultEndpoint
    }

    /// `http(s)://authority[/path]` without a trailing slash.
    private static func httpURL(_ value: String, origin: String, pathAllowed: Bool) throws(ConfigurationError) -> String {
        var text = value
        while text.hasSuffix("/") { text.removeLast() }
        guard let (scheme, rest) = splitScheme(text), scheme == "http" || scheme == "https" else {
            throw .invalidValue(origin: origin, shown: value, expected: "http://host[:port] or https://host[:port]")
        }
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty, !authority.contains("@"), pathAllowed || authority.count == rest.count else {
            throw .invalidValue(origin: origin, shown: value, expected: "http://host[:port] or https://host[:port]")
        }
        return text
    }
}
