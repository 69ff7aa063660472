import TraceModel

/// The semantics of one Chrome-trace dialect (Kineto's today; torch_npu's text export is another):
/// what `TraceParser` hands each event and top-level member to, and which parts of an event a lean
/// load skips unread. Every decoder feeds a `TimelineBuilder`.
protocol ChromeTraceDecoder: AnyObject {
    /// The builder the parser appends each event's args to.
    var builder: TimelineBuilder { get }
    /// The arg and event names the parser recognises as small integers.
    var keys: WellKnownKeys { get }
    /// Events read so far (for progress reports).
    var eventsConsumed: Int { get }

    /// A top-level member other than `traceEvents`, with its raw JSON text.
    func topLevel(_ name: String, _ text: [UInt8]) throws
    /// One parsed event, its args appended to the builder from `e.argStart`.
    func consume(_ e: inout RawEvent)
    /// Counts an event a lean load skipped after its phase.
    func countSkipped(_ ph: UInt8)
    /// Whether a lean load reads nothing of an event after its phase.
    func skipsAfterPhase(_ ph: UInt8) -> Bool
    /// Whether a lean load skips an event's args unread, by its category.
    func skipsArgs(category: UInt32) -> Bool
    /// Whether a lean load filters the args of an event with phase `ph` (`keepsInLeanLoad`).
    func filtersArgs(ofPhase ph: UInt8) -> Bool
    /// Whether a lean load keeps arg `key` of an event whose args it filters.
    func keepsInLeanLoad(_ key: UInt32) -> Bool
    /// Whether arg `key` (one of the well-known keys) is dropped by every load.
    func isBookkeeping(_ key: UInt32) -> Bool
}
