import Synchronization

/// One provider per credential source per process, so that the stores of the prefetch
/// worker's and push-ahead's threads share one set of temporary keys (and one fetch).
enum CredentialsProviders {
    /// What a provider needs besides its source.
    struct Context: Sendable, Hashable {
        /// Signing region of STS AssumeRole.
        var region: String
        var caBundlePath: String?
        /// Nil: temporary credentials are not kept on disk.
        var cacheDirectory: String?
    }

    private struct Key: Hashable {
        var source: CredentialSource
        var context: Context
    }

    private static let providers = Mutex<[Key: any CredentialsProvider]>([:])

    static func provider(for source: CredentialSource, context: Context) -> any CredentialsProvider {
        let key = Key(source: source, context: context)
        if let existing = providers.withLock({ $0[key] }) { return existing }
        // Made outside the lock: an assumed role first asks for its source's provider.
        let made = make(source, context: context)
        return providers.withLock { providers in
            if let existing = providers[key] { return existing }
            providers[key] = made
            return made
        }
    }

    private static func make(_ source: CredentialSource, context: Context) -> any CredentialsProvider {
        let cache = context.cacheDirectory.flatMap(CredentialsCache.init(directory:))
        switch source {
        case .keys(let keys, _):
            return StaticCredentialsProvider(keys)
        case .webIdentity(let role):
            let sts = SecurityTokenService(endpoint: role.stsEndpoint, region: context.region, caBundlePath: context.caBundlePath)
            return RefreshingCredentialsProvider(source: WebIdentityCredentials(role: role, sts: sts), cache: cache)
        case .assumedRole(let role):
            let sts = SecurityTokenService(endpoint: role.stsEndpoint, region: context.region, caBundlePath: context.caBundlePath)
            let signing = provider(for: role.source, context: context)
            return RefreshingCredentialsProvider(source: AssumeRoleCredentials(role: role, sts: sts, signing: signing), cache: cache)
        case .container(let endpoint):
            return RefreshingCredentialsProvider(source: ContainerCredentials(endpoint: endpoint, caBundlePath: context.caBundlePath),
                                                 cache: cache)
        case .instanceMetadata(let endpoint, let tried):
            return RefreshingCredentialsProvider(source: InstanceMetadataCredentials(endpoint: endpoint, tried: tried), cache: cache)
        }
    }
}
