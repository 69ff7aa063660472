#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

/// Initialises `strm` for gzip or zlib input (window bits 15 + 32: detect the header).
int czlib_inflate_init_auto(z_stream *strm);
/// Initialises `strm` to deflate into gzip format (window bits 15 + 16) at `level` (0-9).
int czlib_deflate_init_gzip(z_stream *strm, int level);
/// Allocates a zeroed z_stream (Swift cannot zero-initialise it portably across zlib versions).
z_stream *czlib_stream_create(void);
/// Frees a stream from czlib_stream_create after inflateEnd.
void czlib_stream_destroy(z_stream *strm);
#endif
