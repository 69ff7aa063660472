// swift-tools-version:6.0
import PackageDescription

// Dataflow: TraceImport (file -> JSON tokens -> Kineto semantics) -> TraceModel (columnar tables)
// -> Analysis (steps, phases, attribution) -> Report (text/JSON/markdown) -> stepscope (CLI).
// TerminalUI (pure: virtual screen, widgets, views) renders the same analyses; CursesBackend is the
// only module that talks to the terminal through CCurses.
// Sampler (live processes -> stack samples -> TraceModel profile tables -> Chrome trace) is a
// second importer: its Chrome trace output is read back by TraceImport like any other trace.
// C shims (CZlib, CISAL, CSQLite, CCurses, CUnwind, CElf) wrap the macros and variadic calls Swift cannot see.
// The importer's tables are only touched by one thread during a load: dynamic exclusivity checks
// there cost ~20% of import time (measured with perf), so they are off for these two modules.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "stepscope",
    products: [
        .executable(name: "stepscope", targets: ["stepscope"]),
        .executable(name: "tui-bench", targets: ["tui-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "CISAL", linkerSettings: [.linkedLibrary("isal")]),
        .target(name: "CCurses", linkerSettings: [.linkedLibrary("ncursesw")]),
        .target(name: "CUnwind", linkerSettings: [
            .linkedLibrary("unwind-ptrace"), .linkedLibrary("unwind-generic"),
            .linkedLibrary("unwind"), .linkedLibrary("lzma"),
        ]),
        .target(name: "CElf", linkerSettings: [.linkedLibrary("elf")]),
        .target(name: "CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),

        .target(name: "TraceModel", swiftSettings: hotPath),
        .target(name: "TraceImport", dependencies: ["TraceModel", "CZlib", "CISAL", "CSQLite"], swiftSettings: hotPath),
        .target(name: "Analysis", dependencies: ["TraceModel"]),
        .target(name: "Formatting", dependencies: ["TraceModel", "Analysis"]),
        .target(name: "Report", dependencies: ["TraceModel", "Analysis", "Formatting"]),
        .target(name: "TerminalUI", dependencies: ["TraceModel", "Analysis", "Formatting"]),
        .target(name: "CursesBackend", dependencies: ["CCurses", "TerminalUI"]),
        .target(name: "Sampler", dependencies: ["TraceModel", "Analysis", "CUnwind", "CElf"]),
        // On-demand Kineto traces: stepscope answers as dynolog over its Unix datagram socket.
        .target(name: "Attach", dependencies: ["Sampler"]),
        .executableTarget(name: "stepscope", dependencies: [
            "TraceModel", "TraceImport", "Analysis", "Formatting", "Report", "TerminalUI", "CursesBackend", "Sampler", "Attach",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Frame-time benchmark of the terminal UI: drives every view through the virtual screen.
        .executableTarget(name: "tui-bench", dependencies: ["TraceModel", "TraceImport", "Analysis", "TerminalUI"], path: "bench/tui_frames"),

        .target(name: "TestSupport", dependencies: ["TraceModel", "TraceImport"], path: "Tests/TestSupport"),
        .testTarget(name: "ShimTests", dependencies: ["CZlib", "CISAL", "CCurses", "CUnwind", "CElf"]),
        .testTarget(name: "TraceModelTests", dependencies: ["TraceModel"]),
        .testTarget(name: "TraceImportTests", dependencies: ["TraceImport", "TestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "TraceImport", "TestSupport"],
                    exclude: ["diff_reference.py", "memory_reference.py"]),
        .testTarget(name: "FormattingTests", dependencies: ["Formatting"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Analysis", "Formatting", "TraceImport", "TestSupport"]),
        .testTarget(name: "ConformanceTests", dependencies: ["Analysis", "TraceImport", "Report", "TestSupport"],
                    exclude: ["reference.py", "Fixtures", "Synthetic"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "TraceImport"]),
        .testTarget(name: "SnapshotTests", dependencies: ["TraceImport", "Analysis", "Report", "TerminalUI", "TestSupport"],
                    exclude: ["snapshot_reference.py"]),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI", "Analysis", "Formatting", "TraceImport", "TestSupport"],
                    exclude: ["Snapshots", "flame_reference.py"]),
        .testTarget(name: "SamplerTests", dependencies: ["Sampler", "Analysis", "TraceImport", "TestSupport", "CUnwind"],
                    exclude: ["Programs"]),
        .testTarget(name: "AttachTests", dependencies: ["Attach", "Analysis", "Report", "TraceImport", "TestSupport"],
                    exclude: ["Fixtures", "Programs"]),
    ]
)
