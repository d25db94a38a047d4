/// Variables every tool a test starts gets, so that nothing installed on the test machine can
/// change an outcome: no config file is read (not even /etc/wal-archive/wal-archive.conf), and
/// no request can go to a cloud metadata address.
public enum HermeticEnvironment {
    public static let variables: [String: String] = [
        "WAL_ARCHIVE_CONFIG": "none",
        "AWS_EC2_METADATA_DISABLED": "true",
    ]

    /// `environment` on top of the hermetic variables (a test may still name a config file).
    public static func merged(with environment: [String: String]) -> [String: String] {
        variables.merging(environment) { _, new in new }
    }
}
