/// Checks the archived segments of a `WALChain`: that each carries its checksum metadata (one
/// HEAD per segment), or with `deep` that each downloads, decompresses and verifies as
/// `wal-fetch` would verify it (SHA-256, size, page header for its name) and belongs to the
/// archive's system (the page header's system identifier).
public struct ChainVerification {
    /// A segment that a recovery could not use, and why.
    public struct Finding: Sendable, Equatable {
        public var name: WALFileName
        public var key: String
        public var message: String
    }

    public let store: any ObjectStore
    public let inventory: ArchiveInventory
    public let temporaryDirectory: String
    /// The keys of an encrypted archive (for `deep`).
    public let decryption: ObjectDecryption

    public init(store: any ObjectStore, inventory: ArchiveInventory, temporaryDirectory: String,
                decryption: ObjectDecryption = .none) {
        self.decryption = decryption
        self.store = store
        self.inventory = inventory
        self.temporaryDirectory = temporaryDirectory
    }

    /// Findings for every archived segment of `chain`, in WAL order. `systemIdentifier`: the
    /// archive's (from its identity); without it, the first segment's is expected of all.
    public func verify(_ chain: WALChain, deep: Bool, systemIdentifier: UInt64?) throws(StorageError) -> [Finding] {
        guard let end = chain.endNumber, end >= chain.startNumber else { return [] }
        var byName: [WALFileName: ArchivedFile] = [:]
        for file in inventory.files where file.name.kind == .segment && byName[file.name] == nil {
            byName[file.name] = file
        }
        var findings: [Finding] = []
        var expectedSystem = systemIdentifier
        for number in chain.startNumber...end {
            guard let name = inventory.segmentName(timeline: chain.timeline(of: number), number: number),
                  let file = byName[name] else { continue }
            if deep {
                do {
                    let header = try VerifiedDownload.segmentHeader(of: file, from: store, temporaryDirectory: temporaryDirectory,
                                                                   decryption: decryption)
                    let expected = expectedSystem ?? header.systemIdentifier
                    expectedSystem = expected
                    if header.systemIdentifier != expected {
                        findings.append(Finding(name: name, key: file.key, message: "belongs to database system "
                                                + "\(header.systemIdentifier), not \(expected)"))
                    }
                } catch {
                    switch error {
                    case .storage(let storageError): throw storageError
                    case .damaged(let message): findings.append(Finding(name: name, key: file.key, message: message))
                    }
                }
            } else if let message = try checkMetadata(of: file) {
                findings.append(Finding(name: name, key: file.key, message: message))
            }
        }
        return findings
    }

    /// Nil when the object's metadata says what `wal-fetch` will check: a SHA-256 and the
    /// segment size.
    private func checkMetadata(of file: ArchivedFile) throws(StorageError) -> String? {
        guard let info = try store.head(key: file.key) else { return "was listed but is gone" }
        let metadata: PayloadMetadata
        do {
            metadata = try PayloadMetadata(object: info)
        } catch {
            return error.message
        }
        guard metadata.originalSHA256Hex != nil else {
            return "has no wal-sha256 metadata: its content cannot be verified (an object not written by wal-push); "
                + "--deep checks its WAL header"
        }
        if let size = metadata.originalSize, size != Int64(inventory.segmentSize.bytes) {
            return "is \(size) bytes by its metadata, not a \(inventory.segmentSize) segment"
        }
        return nil
    }
}
