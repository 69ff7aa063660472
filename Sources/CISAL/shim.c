#include "cisal.h"
#include <stdlib.h>

struct inflate_state *cisal_gzip_create(void) {
    struct inflate_state *state = malloc(sizeof(struct inflate_state));
    if (state == NULL) return NULL;
    isal_inflate_init(state);
    state->crc_flag = ISAL_GZIP;
    return state;
}

void cisal_gzip_reset(struct inflate_state *state) {
    isal_inflate_reset(state);
    state->crc_flag = ISAL_GZIP;
}

void cisal_destroy(struct inflate_state *state) { free(state); }

bool cisal_member_finished(const struct inflate_state *state) { return state->block_state == ISAL_BLOCK_FINISH; }

const char *cisal_error_message(int code) {
    switch (code) {
    case ISAL_INVALID_BLOCK: return "invalid block type or lengths";
    case ISAL_INVALID_SYMBOL: return "invalid code";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER: return "incorrect header check";
    case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
    case ISAL_NEED_DICT: return "need dictionary";
    default: return "unknown error";
    }
}
