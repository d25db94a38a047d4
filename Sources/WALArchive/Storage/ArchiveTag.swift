/// A short fingerprint of the archive that a local record was made for (push-ahead records,
/// locator hints, prefetched segments): state made for one archive is never trusted for
/// another, and a changed configuration simply finds nothing of its own.
public enum ArchiveTag {
    /// 16 hex digits of the SHA-256 of `location`.
    public static func of(location: String) -> String {
        String(SHA256Hasher.hash(Array(location.utf8)).hexString.prefix(16))
    }
}
