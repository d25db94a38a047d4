/// Why the segment locator could not give one answer for a name.
public enum LocatorError: Error, Sendable {
    case storage(StorageError)
    /// The name is under several keys whose content differs (or cannot be compared): which one
    /// is the archived file is not for the locator to guess.
    case differentCopies(name: String, keys: [String])
    /// The name's claim object cannot be read as one.
    case unusableClaim(NameClaimError)
}
