#ifndef CISAL_H
#define CISAL_H
#include <stdbool.h>
#include <stdint.h>
#include <isa-l/igzip_lib.h>

/// Allocates an inflate state set up for gzip members (header parsed, CRC-32 and size checked);
/// NULL when out of memory.
struct inflate_state *cisal_gzip_create(void);
/// Readies `state` for the next gzip member (after one finished), keeping the gzip wrapper.
void cisal_gzip_reset(struct inflate_state *state);
/// Frees a state from cisal_gzip_create.
void cisal_destroy(struct inflate_state *state);
/// Whether the current member ended (its trailer read and checked).
bool cisal_member_finished(const struct inflate_state *state);
/// A short message for an isal_inflate error code (negative), as zlib words them.
const char *cisal_error_message(int code);
#endif
