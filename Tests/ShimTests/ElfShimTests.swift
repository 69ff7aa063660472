import CElf
import Glibc
import XCTest

final class ElfShimTests: XCTestCase {
    override func setUp() {
        XCTAssertTrue(celf_init())
    }

    func testOwnExecutableHasFunctionSymbols() throws {
        let fd = open("/proc/self/exe", O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let elf = try XCTUnwrap(celf_begin(fd), String(cString: celf_errmsg()))
        defer { celf_end(elf) }
        XCTAssertTrue(celf_is_elf(elf))

        var header = celf_header()
        XCTAssertEqual(celf_read_header(elf, &header), 0)
        XCTAssertTrue([UInt16(ET_EXEC), UInt16(ET_DYN)].contains(header.type))
        XCTAssertEqual(header.machine, UInt16(EM_X86_64))
        XCTAssertGreaterThan(header.phnum, 0)

        var count = 0
        let table = try XCTUnwrap(celf_symbol_table(elf, false, &count) ?? celf_symbol_table(elf, true, &count))
        XCTAssertGreaterThan(count, 0)
        var symbol = celf_symbol()
        var functions = 0
        for index in 0..<count {
            XCTAssertEqual(celf_symbol_at(elf, table, index, &symbol), 0)
            if symbol.type == STT_FUNC && symbol.shndx != SHN_UNDEF && symbol.value != 0 {
                XCTAssertFalse(String(cString: symbol.name).isEmpty)
                functions += 1
            }
        }
        XCTAssertGreaterThan(functions, 0)
        XCTAssertEqual(celf_symbol_at(elf, table, count, &symbol), -1)
    }

    /// Finds malloc in libc's .dynsym and checks that symbol value + load bias is where it runs.
    func testLibcDynsymLocatesMalloc() throws {
        let (path, base) = try XCTUnwrap(mappedLibc())
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let elf = try XCTUnwrap(celf_begin(fd), String(cString: celf_errmsg()))
        defer { celf_end(elf) }

        var header = celf_header()
        XCTAssertEqual(celf_read_header(elf, &header), 0)
        XCTAssertEqual(header.type, UInt16(ET_DYN))

        var firstLoad: celf_segment?
        var segment = celf_segment()
        for index in 0..<header.phnum {
            XCTAssertEqual(celf_segment_at(elf, index, &segment), 0)
            if segment.type == PT_LOAD && firstLoad == nil { firstLoad = segment }
        }
        let load = try XCTUnwrap(firstLoad)
        XCTAssertEqual(celf_segment_at(elf, header.phnum, &segment), -1)
        let bias = base &- (load.vaddr &- load.offset)

        var count = 0
        let dynsym = try XCTUnwrap(celf_symbol_table(elf, true, &count))
        var malloc: celf_symbol?
        var symbol = celf_symbol()
        for index in 0..<count where celf_symbol_at(elf, dynsym, index, &symbol) == 0 {
            if String(cString: symbol.name) == "malloc" { malloc = symbol }
        }
        let found = try XCTUnwrap(malloc)
        XCTAssertEqual(found.type, UInt8(STT_FUNC))
        XCTAssertEqual(found.bind, UInt8(STB_GLOBAL))
        XCTAssertNotEqual(found.shndx, UInt16(SHN_UNDEF))
        XCTAssertGreaterThan(found.size, 0)

        let handle = try XCTUnwrap(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD))
        defer { dlclose(handle) }
        let running = try XCTUnwrap(dlsym(handle, "malloc"))
        XCTAssertEqual(bias &+ found.value, UInt64(UInt(bitPattern: running)))
    }

    func testSectionsByNameAndIteration() throws {
        let (path, _) = try XCTUnwrap(mappedLibc())
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let elf = try XCTUnwrap(celf_begin(fd))
        defer { celf_end(elf) }
        var header = celf_header()
        XCTAssertEqual(celf_read_header(elf, &header), 0)

        var section = celf_section()
        var names: [String] = []
        var scn: OpaquePointer? = nil
        while let next = celf_next_section(elf, scn, &section) {
            names.append(String(cString: section.name))
            scn = next
        }
        XCTAssertEqual(names.count, header.shnum - 1)  // elf_nextscn skips the null section 0
        XCTAssertTrue(names.contains(".dynsym"))

        XCTAssertNotNil(celf_find_section(elf, ".text", &section))
        XCTAssertEqual(String(cString: section.name), ".text")
        XCTAssertEqual(section.type, UInt32(SHT_PROGBITS))
        XCTAssertGreaterThan(section.addr, 0)
        XCTAssertGreaterThan(section.offset, 0)
        XCTAssertGreaterThan(section.size, 0)
        XCTAssertNil(celf_find_section(elf, ".PyRuntime", &section))
    }

    func testNonElfDataIsRejected() throws {
        var template = Array("/tmp/celf-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        unlink(template)
        let text = Array("not an ELF file\n".utf8)
        XCTAssertEqual(write(fd, text, text.count), text.count)
        let elf = try XCTUnwrap(celf_begin(fd))
        defer { celf_end(elf) }
        XCTAssertFalse(celf_is_elf(elf))
        var header = celf_header()
        XCTAssertEqual(celf_read_header(elf, &header), -1)
        XCTAssertFalse(String(cString: celf_errmsg()).isEmpty)
    }

    /// Path and start address of libc's first (file offset 0) mapping in this process.
    private func mappedLibc() -> (String, UInt64)? {
        guard let maps = readProcFile("/proc/self/maps") else { return nil }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasSuffix("/libc.so.6"), UInt64(fields[2], radix: 16) == 0,
                  let start = fields[0].split(separator: "-").first.flatMap({ UInt64($0, radix: 16) })
            else { continue }
            return (String(fields[5]), start)
        }
        return nil
    }
}
