/// How a PostgreSQL setting such as `archive_command` calls one of our tools: the words of the
/// command as `/bin/sh -c` would split them (quotes and backslashes; no expansion), the
/// variable assignments before the tool's word, the tool's path and its arguments.
public struct ToolInvocation: Sendable, Equatable {
    public var path: String
    public var arguments: [String]
    /// `NAME=value` words before the tool (`WAL_ARCHIVE_URL=… wal-push %p`).
    public var assignments: [String: String]

    /// The first call of `tool` (a word whose last path component is `tool`) in `command`;
    /// nil when the command does not call it.
    public init?(command: String, tool: String) {
        var assignments: [String: String] = [:]
        var words = Self.words(command)[...]
        while let word = words.first {
            words = words.dropFirst()
            if FileOperations.baseName(word) == tool, word.hasSuffix(tool) {
                var arguments: [String] = []
                while let argument = words.first, !Self.separators.contains(argument) {
                    arguments.append(argument)
                    words = words.dropFirst()
                }
                self.init(path: word, arguments: arguments, assignments: assignments)
                return
            }
            if Self.separators.contains(word) {
                assignments = [:]
            } else if let equals = word.firstIndex(of: "="), !word.hasPrefix("-"), equals != word.startIndex {
                assignments[String(word[..<equals])] = String(word[word.index(after: equals)...])
            } else if word != "exec" && word != "env" {
                assignments = [:]
            }
        }
        return nil
    }

    public init(path: String, arguments: [String], assignments: [String: String]) {
        self.path = path
        self.arguments = arguments
        self.assignments = assignments
    }

    static let separators: Set<String> = [";", "&&", "||", "|", "&"]

    /// Words as the shell splits them: blanks separate; '…' keeps everything; "…" keeps all but
    /// \" \\ \$ \`; a backslash outside quotes keeps the next character; ; & | stand alone.
    static func words(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var characters = Array(command)[...]
        func finish() {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        }
        while let character = characters.first {
            characters = characters.dropFirst()
            switch character {
            case " ", "\t", "\n":
                finish()
            case ";", "&", "|":
                finish()
                var separator = String(character)
                if let next = characters.first, next == character, character != ";" {
                    separator.append(next)
                    characters = characters.dropFirst()
                }
                words.append(separator)
            case "'":
                inWord = true
                while let next = characters.first, next != "'" {
                    current.append(next)
                    characters = characters.dropFirst()
                }
                characters = characters.dropFirst()
            case "\"":
                inWord = true
                while let next = characters.first, next != "\"" {
                    characters = characters.dropFirst()
                    if next == "\\", let escaped = characters.first, "\"\\$`".contains(escaped) {
                        current.append(escaped)
                        characters = characters.dropFirst()
                    } else {
                        current.append(next)
                    }
                }
                characters = characters.dropFirst()
            case "\\":
                inWord = true
                if let next = characters.first {
                    current.append(next)
                    characters = characters.dropFirst()
                }
            default:
                inWord = true
                current.append(character)
            }
        }
        finish()
        return words
    }
}
