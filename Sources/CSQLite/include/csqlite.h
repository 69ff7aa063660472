#ifndef CSQLITE_H
#define CSQLITE_H
#include <sqlite3.h>

/// Opens `uri` (a `file:` URI) read-only with URI names enabled; returns the sqlite3 result code.
int csqlite_open_readonly(const char *uri, sqlite3 **db);
/// `SQLITE_TRANSIENT` (a cast macro Swift cannot import): bound text is copied by SQLite.
sqlite3_destructor_type csqlite_transient(void);
#endif
