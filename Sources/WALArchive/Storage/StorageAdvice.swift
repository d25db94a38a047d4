/// What a DBA should check after a storage failure, appended to the one-line messages.
enum StorageAdvice {
    static func `for`(_ error: StorageError) -> String {
        switch error {
        case .accessDenied: return "check the credentials and the bucket policy"
        case .unavailable: return "check the endpoint, the network and the storage's health"
        case .rejected: return "check the URL, the region and the bucket settings"
        case .invalidResponse: return "check that the endpoint is an S3-compatible service"
        case .localIO: return "check the local disk and the archive directory"
        case .notFound, .alreadyExists, .sinkFailed: return "check the archive"
        case .missingLibrary(_, let package, _): return "install the package \(package), which S3 archives need"
        }
    }
}
