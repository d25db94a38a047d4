/// Passes everything to a sink; the first `begin` (a store calls it only for an object it has,
/// with the first bytes of its body, before it reports success) also calls `whenFound`, once
/// whatever the retries: what is known once the object is known to exist starts there, while
/// the rest of it downloads.
final class FoundSignal: ObjectSink {
    let sink: any ObjectSink
    var whenFound: ((ObjectInfo) -> Void)?

    init(forwardingTo sink: any ObjectSink, whenFound: @escaping (ObjectInfo) -> Void) {
        self.sink = sink
        self.whenFound = whenFound
    }

    func begin(_ object: ObjectInfo) throws(StorageError) {
        if let found = whenFound {
            whenFound = nil
            found(object)
        }
        try sink.begin(object)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        try sink.write(bytes)
    }

    func end() throws(StorageError) {
        try sink.end()
    }
}
