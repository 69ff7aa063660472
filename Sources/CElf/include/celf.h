// CElf: the libelf/gelf reads a symbolizer needs (header, segments, sections, symbols) as plain
// functions over plain structs, so Swift never touches GELF_ST_TYPE/GELF_ST_BIND and friends.
// Constants from <elf.h> (ET_DYN, PT_LOAD, SHT_SYMTAB, STT_FUNC, STB_GLOBAL, SHN_UNDEF, ...) are
// plain integer macros and are importable as is.
// Functions returning int give 0 on success and -1 on failure (reason in celf_errmsg).
// Strings handed out point into libelf's copy of the file: valid until celf_end.
#ifndef CELF_H
#define CELF_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The ELF header fields a symbolizer needs.
typedef struct celf_header {
    uint16_t type;     // ET_EXEC, ET_DYN (shared object or PIE), ...
    uint16_t machine;  // EM_X86_64, ...
    uint64_t entry;
    size_t phnum;      // number of program headers
    size_t shnum;      // number of sections
} celf_header;

// One program header.
typedef struct celf_segment {
    uint32_t type;     // PT_LOAD, PT_DYNAMIC, ...
    uint32_t flags;    // PF_R | PF_W | PF_X
    uint64_t offset;   // file offset
    uint64_t vaddr;    // link-time address; load bias = mapped start - (vaddr - offset) of PT_LOAD
    uint64_t filesz;
    uint64_t memsz;
} celf_segment;

// One section header, with its name resolved.
typedef struct celf_section {
    const char *name;
    uint32_t type;     // SHT_SYMTAB, SHT_DYNSYM, SHT_PROGBITS, SHT_NOBITS, ...
    uint64_t flags;
    uint64_t addr;     // link-time address (0 when not loaded)
    uint64_t offset;   // file offset
    uint64_t size;
} celf_section;

// One symbol, with its name resolved and st_info split.
typedef struct celf_symbol {
    const char *name;
    uint64_t value;    // link-time address for defined symbols
    uint64_t size;
    uint8_t type;      // STT_FUNC, STT_OBJECT, ...
    uint8_t bind;      // STB_LOCAL, STB_GLOBAL, STB_WEAK
    uint16_t shndx;    // SHN_UNDEF for symbols defined elsewhere
} celf_symbol;

// elf_version(EV_CURRENT); must succeed once before celf_begin; false if libelf is too old.
bool celf_init(void);
// elf_begin on an open, readable fd (read-only, mmap'd); keep fd open until celf_end; NULL on failure.
Elf *celf_begin(int fd);
// elf_end: releases an Elf from celf_begin.
void celf_end(Elf *elf);
// true when elf is an ELF object (not an ar archive or unknown data).
bool celf_is_elf(Elf *elf);
// Reads the ELF header.
int celf_read_header(Elf *elf, celf_header *out);
// Reads program header index (0 ..< phnum).
int celf_segment_at(Elf *elf, size_t index, celf_segment *out);
// Section after prev (NULL: the first), filled into out; NULL after the last one.
Elf_Scn *celf_next_section(Elf *elf, Elf_Scn *prev, celf_section *out);
// First section called name (e.g. ".text", ".PyRuntime"), filled into out; NULL if none.
Elf_Scn *celf_find_section(Elf *elf, const char *name, celf_section *out);
// The .dynsym (dynamic true) or .symtab section and its symbol count; NULL if the file has none.
Elf_Scn *celf_symbol_table(Elf *elf, bool dynamic, size_t *count);
// Reads symbol index (0 ..< count) of a table from celf_symbol_table.
int celf_symbol_at(Elf *elf, Elf_Scn *table, size_t index, celf_symbol *out);
// Message for the last libelf error in this thread.
const char *celf_errmsg(void);

// Demangles a C++ (Itanium ABI) name into out with libstdc++'s __cxa_demangle, looked up with
// dlsym so nothing links against C++; false (out untouched) when name is not mangled or the
// demangler is unavailable. The result is truncated to len - 1 bytes.
bool celf_demangle(const char *name, char *out, size_t len);

#endif
