import Glibc

/// The prefetch worker: `wal-fetch` started again by itself (see PrefetchSession) to download
/// the next K segments of the timeline into the prefetch directory while PostgreSQL replays.
/// One at a time per `pg_wal` (PrefetchWorkerLock); it exits after one batch, so none outlives
/// recovery for long, and it never writes `%p`.
public struct PrefetchWorker: Sendable {
    /// Set in the worker's environment to the segment size in bytes; makes `wal-fetch` the worker.
    static let environmentName = "WAL_ARCHIVE_PREFETCH_WORKER"
    /// Downloads on this many connections at once: with object storage a round trip away,
    /// one connection leaves the worker behind replay.
    static let connections = 8

    public let prefetch: RestorePrefetch

    public init(prefetch: RestorePrefetch) {
        self.prefetch = prefetch
    }

    /// The worker's whole life: wait for the lock, announce the window, download the batch.
    func run(configuration: Configuration, segmentSize: WALSegmentSize) {
        DetachedProcess.closeInheritedDescriptors()
        guard let lock = PrefetchWorkerLock(walDirectory: prefetch.walDirectory), lock.acquireWaiting() else { return }
        defer { lock.release() }
        let wanted = prefetch.wantedSegments(segmentSize: segmentSize)
        guard let first = wanted.first, let last = wanted.last else { return }
        lock.announce(first: first.description, last: last.description)
        var stores: [any ObjectStore] = []
        for _ in 0..<min(wanted.count, Self.connections) {
            guard let store = try? configuration.destination.makeStore() else { break }
            stores.append(store)
        }
        // The call that started the worker read the identity moments ago: the copy answers.
        guard let store = stores.first,
              let identity = try? ArchiveIdentityCheck(store: store, storeIdentity: prefetch.storeIdentity,
                                                       cacheDirectory: prefetch.walDirectory.trustedStateDirectory(create: false)).identity().identity else {
            return
        }
        runBatch(stores: stores, archiveIdentity: identity, searchesLegacyFlatLayout: configuration.legacyFlatLayout,
                 preferredSuffix: configuration.compression.keySuffix, segmentSize: segmentSize,
                 decryption: identity.decryption(keys: configuration.encryptionKeys),
                 givingUp: { segment in
                     guard let index = wanted.firstIndex(of: segment) else { return }
                     lock.narrow(toLast: index == 0 ? nil : wanted[index - 1].description)
                 })
    }

    /// Downloads the wanted segments that are missing, in order, one thread per store, each
    /// verified into a temporary file and renamed into place, then recorded (`PrefetchRecorder`)
    /// so that serving it needs no second reading. Stops silently at the first
    /// segment the archive does not have (the end of the archive, or not archived yet), at any
    /// error (a segment of another system than `archiveIdentity`'s among them), before a
    /// download would take the file system below `floor`, and when recovery has ended (then it
    /// removes everything). Returns how many files it added. `givingUp` is told each segment a
    /// download thread could not place (not in the archive, or a failure), at once, from that
    /// thread.
    @discardableResult
    public func runBatch(stores: [any ObjectStore], archiveIdentity: ArchiveIdentity, searchesLegacyFlatLayout: Bool,
                         preferredSuffix: String, segmentSize: WALSegmentSize, floor: FreeSpaceFloor = .standard,
                         decryption: ObjectDecryption = .none,
                         givingUp: (@Sendable (WALFileName) -> Void)? = nil) -> Int {
        // Never through a symlink or another user's directory (RestorePrefetch checked it too).
        guard prefetch.walDirectory.trustedStateDirectory("prefetch", create: true) == prefetch.directory else { return 0 }
        let layout = StorageLayout(prefix: prefetch.storeIdentity.prefix)
        let wanted = prefetch.wantedSegments(segmentSize: segmentSize)
        let present = prefetch.removeUnwanted(keeping: wanted)
        let missing = wanted.filter { !present.contains($0.description) }
        guard !missing.isEmpty, !stores.isEmpty else { return 0 }
        let space = PrefetchSpace(floor: floor, directory: prefetch.directory, segmentBytes: Int64(segmentSize.bytes))
        let suffixes = CompressionAlgorithm.keySuffixes(preferring: preferredSuffix)
        let walDirectory = prefetch.walDirectory
        // Records are kept only in a private directory; without one, files are verified in full when served.
        let recordsDirectory = walDirectory.trustedStateDirectory("prefetch-records", create: true)
        let queue = SharedQueue(missing)
        let download: @Sendable (HandedOver<any ObjectStore>) -> Void = { store in
            let locator = SegmentLocator(store: store.value, layout: layout, suffixes: suffixes,
                                         searchesLegacyFlatLayout: searchesLegacyFlatLayout,
                                         hints: LocatorHints(directory: walDirectory.stateDirectory,
                                                             storeIdentity: self.prefetch.storeIdentity))
            let recorder = PrefetchRecorder(prefetchDirectory: self.prefetch.directory, recordsDirectory: recordsDirectory,
                                            archiveTag: self.prefetch.archiveTag)
            defer { recorder.writeSettled(waiting: true) }
            while let segment = queue.take() {
                guard walDirectory.recoveryState.isRecovering, space.reserve() else {
                    queue.stop()
                    return
                }
                let placed = self.download(segment, locator: locator, system: archiveIdentity.systemIdentifier,
                                           decryption: decryption)
                space.release()
                guard let placed else {
                    queue.stop()
                    givingUp?(segment)
                    return
                }
                recorder.placed(placed)
                recorder.writeSettled(waiting: false)
            }
        }
        let threads = ThreadGroup()
        for (index, store) in stores.enumerated().dropFirst() {
            let handed = HandedOver(value: store)
            threads.start(index) { _ in download(handed) }
        }
        download(HandedOver(value: stores[0]))
        threads.join()
        guard walDirectory.recoveryState.isRecovering else {
            walDirectory.removePrefetchedSegments()
            return 0
        }
        return prefetch.removeUnwanted(keeping: wanted).count - present.count
    }

    /// The name of the file placed in the prefetch directory, verified as it was written
    /// (size, SHA-256, page header, system); nil when there is none.
    private func download(_ segment: WALFileName, locator: SegmentLocator, system: UInt64, decryption: ObjectDecryption) -> String? {
        guard let sink = try? VerifyingFileSink(directory: prefetch.directory, expecting: segment, decryption: decryption) else {
            return nil
        }
        defer { sink.discard() }
        do {
            guard try locator.fetch(segment.description, into: sink) != nil else { return nil }
            let verified = try sink.finish()
            guard verified.header?.systemIdentifier == system else { return nil }
            let name = segment.description + "." + prefetch.archiveTag + "." + verified.sha256Hex
            try sink.commit(to: prefetch.directory + "/" + name)
            return name
        } catch {
            return nil
        }
    }
}
