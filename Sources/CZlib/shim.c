#include "czlib.h"
#include <stdlib.h>

int czlib_inflate_init_auto(z_stream *strm) { return inflateInit2(strm, 15 + 32); }

int czlib_deflate_init_gzip(z_stream *strm, int level) {
    return deflateInit2(strm, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

z_stream *czlib_stream_create(void) { return calloc(1, sizeof(z_stream)); }

void czlib_stream_destroy(z_stream *strm) { free(strm); }
