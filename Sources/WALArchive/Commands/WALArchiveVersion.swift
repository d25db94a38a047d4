/// The version both executables report.
public enum WALArchiveVersion {
    public static let current = "0.1.0"
}
