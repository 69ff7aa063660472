import TraceModel
import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A failure reading an SQLite database: the file and what SQLite (or the reader) said.
public struct SQLiteError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }

    /// The same failure as an import error.
    public var importError: ImportError { ImportError(file: file, message: message) }
}

/// A read-only SQLite database, opened `immutable` so a user's file is never written (no journal,
/// no lock file, no WAL recovery), with the tables and columns it holds.
public final class SQLiteDatabase {
    public let path: String
    private var handle: OpaquePointer?

    /// Opens `path` read-only. Fails (naming the file) when it is missing or not a database.
    public init(path: String) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = csqlite_open_readonly(Self.uri(path), &db)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close(db)
            throw SQLiteError(file: path, message: message)
        }
        handle = db
        // Opening is lazy: the header is only checked by the first read.
        _ = try tables()
    }

    deinit { sqlite3_close(handle) }

    /// Creates a new database at `path` by running `script` (SQL statements); for tests and tools
    /// that build small exports. An existing file is refused, so nothing of a user's is written.
    public static func create(path: String, script: String) throws(SQLiteError) {
        var db: OpaquePointer?
        defer { sqlite3_close(db) }
        var st = stat()
        guard stat(path, &st) != 0 else { throw SQLiteError(file: path, message: "already exists") }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            throw SQLiteError(file: path, message: db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot create")
        }
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, script, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "script failed"
            sqlite3_free(message)
            throw SQLiteError(file: path, message: text)
        }
    }

    /// A `file:` URI for `path` with `mode=ro&immutable=1`; `%`, `?` and `#` are escaped.
    static func uri(_ path: String) -> String {
        var escaped = ""
        for c in path.unicodeScalars {
            switch c {
            case "%": escaped += "%25"
            case "?": escaped += "%3F"
            case "#": escaped += "%23"
            default: escaped.unicodeScalars.append(c)
            }
        }
        return "file:" + escaped + "?mode=ro&immutable=1"
    }

    /// Names of the tables (views too).
    public func tables() throws(SQLiteError) -> Set<String> {
        var names = Set<String>()
        let rows = try prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        while try rows.step() { names.insert(rows.string(0) ?? "") }
        return names
    }

    /// Names of the columns of `table` (empty when there is no such table).
    public func columns(of table: String) throws(SQLiteError) -> Set<String> {
        var names = Set<String>()
        let rows = try prepare("SELECT name FROM pragma_table_info(?)", bind: [.text(table)])
        while try rows.step() { names.insert(rows.string(0) ?? "") }
        return names
    }

    /// Prepares `sql` with parameters `bind` (`?` in order).
    public func prepare(_ sql: String, bind: [SQLiteValue] = [], table: String = "query") throws(SQLiteError) -> SQLiteRows {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error() }
        for (i, value) in bind.enumerated() {
            let bound: Int32
            switch value {
            case let .text(t): bound = sqlite3_bind_text(stmt, Int32(i + 1), t, -1, csqlite_transient())
            case let .integer(n): bound = sqlite3_bind_int64(stmt, Int32(i + 1), n)
            }
            guard bound == SQLITE_OK else {
                sqlite3_finalize(stmt)
                throw error()
            }
        }
        return SQLiteRows(stmt, database: self, table: table)
    }

    /// The database's last error, naming the file.
    func error() -> SQLiteError {
        SQLiteError(file: path, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A statement parameter.
public enum SQLiteValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
}

/// The rows of one statement, read one at a time (`step`): nothing but the current row is held.
public final class SQLiteRows {
    private let stmt: OpaquePointer
    private let database: SQLiteDatabase
    /// Column index by name.
    public let columnIndex: [String: Int32]
    /// The table `int` names in its errors (the one read, or "query").
    public let table: String

    init(_ stmt: OpaquePointer, database: SQLiteDatabase, table: String) {
        self.stmt = stmt
        self.database = database
        self.table = table
        var index: [String: Int32] = [:]
        for c in 0..<sqlite3_column_count(stmt) {
            if let name = sqlite3_column_name(stmt, c) { index[String(cString: name)] = c }
        }
        columnIndex = index
    }

    deinit { sqlite3_finalize(stmt) }

    /// Moves to the next row; false after the last.
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(stmt) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error()
        }
    }

    /// The index of column `name`, if the statement has it.
    public func column(_ name: String) -> Int32? { columnIndex[name] }

    /// Whether column `c` of the current row is NULL.
    @inline(__always) public func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }

    /// Column `c` as an exact integer: stored as one, or as text of decimal digits (torch_npu
    /// writes some times as text), which a conversion through SQLite would silently read as 0 when
    /// malformed. NULL, or a nil column (one the table lacks), reads as nil; anything else fails,
    /// naming the column and the text.
    @inline(__always) public func exactInt(_ c: Int32?, table: String) throws(SQLiteError) -> Int64? {
        guard let c else { return nil }
        switch sqlite3_column_type(stmt, c) {
        case SQLITE_INTEGER: return sqlite3_column_int64(stmt, c)
        case SQLITE_NULL: return nil
        default: return try textInt(c, table: table)
        }
    }

    /// `exactInt` of column `c`, naming this statement's `table`.
    @inline(__always) public func int(_ c: Int32?) throws(SQLiteError) -> Int64? { try exactInt(c, table: table) }

    /// `exactInt` of a value stored as text, a real or a blob.
    private func textInt(_ c: Int32, table: String) throws(SQLiteError) -> Int64 {
        let text = string(c) ?? ""
        if let v = Int64(text) { return v }
        let column = sqlite3_column_name(stmt, c).map { String(cString: $0) } ?? "column \(c)"
        throw SQLiteError(file: database.path, message: "\(table).\(column): not an integer: '\(JSONText.terminalSafe(String(text.prefix(40))))'")
    }

    /// Column `c` as a double (NULL reads as nil).
    @inline(__always) public func double(_ c: Int32) -> Double? {
        isNull(c) ? nil : sqlite3_column_double(stmt, c)
    }

    /// Column `c` as text (NULL reads as nil).
    public func string(_ c: Int32) -> String? {
        guard !isNull(c), let p = sqlite3_column_text(stmt, c) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, c))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// Calls `body` with column `c`'s text bytes (valid only during the call); nil for NULL.
    public func withText<R>(_ c: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard !isNull(c), let p = sqlite3_column_text(stmt, c) else { return nil }
        return body(UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, c))))
    }
}

/// The first bytes of every SQLite 3 database file.
public let sqliteMagic: [UInt8] = Array("SQLite format 3".utf8) + [0]
