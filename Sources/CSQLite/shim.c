#include <stddef.h>
#include "csqlite.h"

int csqlite_open_readonly(const char *uri, sqlite3 **db) {
    return sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
}

sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
