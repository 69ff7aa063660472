import ArgumentParser
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

// Every failure ends with one line on stderr. Usage and input errors exit with 2 (not
// ArgumentParser's 64), so scripts and CI can tell them from a regression verdict. The line may
// hold file names and strings from files: control characters are escaped.
func fail(_ message: String) -> Never {
    writeAll(2, "stepscope: error: \(JSONText.terminalSafe(message))\n")
    exit(2)
}

do {
    var command = try Stepscope.parseAsRoot()
    try command.run()
} catch let error as ImportError {
    fail(error.description)
} catch let error as CLIError {
    fail(error.description)
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    let code = Stepscope.exitCode(for: error)
    if code == .success { Stepscope.exit(withError: error) }
    // One line: the message without the usage text (`--help` shows that).
    let message = Stepscope.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
    writeAll(2, "stepscope: error: \(JSONText.terminalSafe(message)) (see 'stepscope --help')\n")
    exit(code == .validationFailure ? 2 : code.rawValue)
}
