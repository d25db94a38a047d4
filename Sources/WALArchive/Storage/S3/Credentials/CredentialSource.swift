/// Where an S3 store's keys come from: what the credential chain (`CredentialChain`) picked
/// from the settings, the environment and the shared AWS files. It only describes: making it
/// costs no request; the provider made from it fetches on first use.
public indirect enum CredentialSource: Sendable, Hashable, CustomStringConvertible {
    /// Keys given as they are: options, environment, config file, or a profile's static keys.
    case keys(S3Settings.Credentials, origin: String)
    /// STS AssumeRoleWithWebIdentity with the token in a file (EKS IRSA and other OIDC setups).
    case webIdentity(WebIdentityRole)
    /// STS AssumeRole, signed with the keys of another source (a profile's `role_arn`).
    case assumedRole(AssumedRole)
    /// The ECS/EKS container credentials endpoint.
    case container(ContainerEndpoint)
    /// EC2 instance metadata (IMDSv2) at this address; `tried` lists the sources before it that
    /// were not configured, for the message when the instance has no credentials either.
    case instanceMetadata(endpoint: String, tried: String)

    /// Static keys from the settings (tests and callers that have keys in hand).
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self = .keys(.init(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken),
                     origin: "settings")
    }

    /// The static keys, when that is what this is.
    public var staticKeys: S3Settings.Credentials? {
        if case .keys(let keys, _) = self { return keys }
        return nil
    }

    /// Who the requests are made as, without any secret and without what changes at each
    /// refresh: the access key ID of static keys, the role of an assumed one, the endpoint that
    /// hands out the keys otherwise. Local records of one store carry it (`StoreIdentity`), so
    /// they stay valid while temporary keys are renewed.
    public var principal: String {
        switch self {
        case .keys(let keys, _): return keys.accessKeyID
        case .webIdentity(let role): return "web identity " + role.roleARN
        case .assumedRole(let role): return "role " + role.roleARN + " via " + role.source.principal
        case .container(let endpoint): return "container " + endpoint.url
        case .instanceMetadata(let endpoint, _): return "instance " + endpoint
        }
    }

    /// Names the source without any secret (access key IDs are not secret: they appear in
    /// every request and in S3's access logs).
    public var description: String {
        switch self {
        case .keys(let keys, let origin): return "access key \(keys.accessKeyID) from \(origin)"
        case .webIdentity(let role): return "web identity role \(role.roleARN) (\(role.origin))"
        case .assumedRole(let role): return "role \(role.roleARN) (\(role.origin)) assumed with \(role.source)"
        case .container(let endpoint): return "container credentials at \(endpoint.url)"
        case .instanceMetadata(let endpoint, _): return "EC2 instance metadata at \(endpoint)"
        }
    }
}

public struct WebIdentityRole: Sendable, Hashable {
    public var roleARN: String
    /// Nil: `wal-archive-<time>`.
    public var sessionName: String?
    /// Read again at every refresh: Kubernetes rotates projected tokens.
    public var tokenFile: String
    public var stsEndpoint: String
    /// Where it was configured, for messages (`AWS_WEB_IDENTITY_TOKEN_FILE`, `profile ci in …`).
    public var origin: String

    public init(roleARN: String, sessionName: String?, tokenFile: String, stsEndpoint: String, origin: String) {
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.tokenFile = tokenFile
        self.stsEndpoint = stsEndpoint
        self.origin = origin
    }
}

public struct AssumedRole: Sendable, Hashable {
    public var roleARN: String
    public var sessionName: String?
    public var externalID: String?
    public var durationSeconds: Int?
    public var stsEndpoint: String
    /// The keys that sign the AssumeRole call.
    public var source: CredentialSource
    public var origin: String

    public init(roleARN: String, sessionName: String?, externalID: String?, durationSeconds: Int?,
                stsEndpoint: String, source: CredentialSource, origin: String) {
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.externalID = externalID
        self.durationSeconds = durationSeconds
        self.stsEndpoint = stsEndpoint
        self.source = source
        self.origin = origin
    }
}

public struct ContainerEndpoint: Sendable, Hashable {
    public var url: String
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, read again at every refresh (EKS Pod Identity
    /// rotates it); else the token itself, else none.
    public var authorizationTokenFile: String?
    public var authorizationToken: String?

    public init(url: String, authorizationTokenFile: String?, authorizationToken: String?) {
        self.url = url
        self.authorizationTokenFile = authorizationTokenFile
        self.authorizationToken = authorizationToken
    }
}
