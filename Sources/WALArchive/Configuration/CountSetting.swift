extension SettingResolver {
    /// A count where 0 means "off" (`WAL_ARCHIVE_PREFETCH`, `WAL_ARCHIVE_PUSH_AHEAD`).
    func count(_ setting: ConfigurationSetting, maximum: Int) throws(ConfigurationError) -> Int? {
        guard let found = try value(setting) else { return nil }
        guard let number = Int(found.value), number >= 0, number <= maximum else {
            throw .invalidValue(origin: found.origin, shown: found.value, expected: "a whole number from 0 (off) to \(maximum)")
        }
        return number
    }
}
