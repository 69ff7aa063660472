#include "ccurses.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <string.h>
#include <sys/ioctl.h>

bool ccurses_setlocale(void) {
    if (setlocale(LC_ALL, "") == NULL) return false;
    return strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

SCREEN *ccurses_newterm(const char *term, FILE *out, FILE *in) {
    SCREEN *screen = newterm(term, out, in);
    if (screen != NULL) set_term(screen);
    return screen;
}

void ccurses_delscreen(SCREEN *screen) { delscreen(screen); }

int ccurses_endwin(void) { return endwin(); }

WINDOW *ccurses_stdscr(void) { return stdscr; }

void ccurses_getmaxyx(WINDOW *win, int *rows, int *cols) {
    int y, x;
    getmaxyx(win, y, x);
    *rows = y;
    *cols = x;
}

int ccurses_terminal_size(int fd, int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -errno;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

bool ccurses_is_term_resized(int rows, int cols) { return is_term_resized(rows, cols); }

int ccurses_resizeterm(int rows, int cols) { return resizeterm(rows, cols); }

int ccurses_keypad(WINDOW *win, bool on) { return keypad(win, on); }

int ccurses_start_color(void) { return has_colors() ? start_color() : ERR; }

int ccurses_use_default_colors(void) { return use_default_colors(); }

int ccurses_colors(void) { return COLORS; }

int ccurses_color_pairs(void) { return COLOR_PAIRS; }

int ccurses_init_pair(int pair, int fg, int bg) { return init_extended_pair(pair, fg, bg); }

attr_t ccurses_attr(ccurses_attr_id id) {
    switch (id) {
    case CCURSES_ATTR_NORMAL: return A_NORMAL;
    case CCURSES_ATTR_BOLD: return A_BOLD;
    case CCURSES_ATTR_DIM: return A_DIM;
    case CCURSES_ATTR_REVERSE: return A_REVERSE;
    case CCURSES_ATTR_UNDERLINE: return A_UNDERLINE;
    case CCURSES_ATTR_ITALIC: return A_ITALIC;
    case CCURSES_ATTR_STANDOUT: return A_STANDOUT;
    }
    return A_NORMAL;
}

chtype ccurses_acs(ccurses_acs_id id) {
    switch (id) {
    case CCURSES_ACS_HLINE: return ACS_HLINE;
    case CCURSES_ACS_VLINE: return ACS_VLINE;
    case CCURSES_ACS_ULCORNER: return ACS_ULCORNER;
    case CCURSES_ACS_URCORNER: return ACS_URCORNER;
    case CCURSES_ACS_LLCORNER: return ACS_LLCORNER;
    case CCURSES_ACS_LRCORNER: return ACS_LRCORNER;
    case CCURSES_ACS_LTEE: return ACS_LTEE;
    case CCURSES_ACS_RTEE: return ACS_RTEE;
    case CCURSES_ACS_TTEE: return ACS_TTEE;
    case CCURSES_ACS_BTEE: return ACS_BTEE;
    case CCURSES_ACS_PLUS: return ACS_PLUS;
    case CCURSES_ACS_BLOCK: return ACS_BLOCK;
    case CCURSES_ACS_CKBOARD: return ACS_CKBOARD;
    case CCURSES_ACS_BULLET: return ACS_BULLET;
    }
    return 0;
}

int ccurses_put_wch(WINDOW *win, int y, int x, wchar_t ch, attr_t attrs, int pair) {
    wchar_t text[2] = {ch, L'\0'};
    cchar_t cell;
    // The short argument is ignored when opts points at the (extended) int pair number.
    if (setcchar(&cell, text, attrs, (short)pair, &pair) == ERR) return ERR;
    return mvwadd_wch(win, y, x, &cell);
}

int ccurses_put_str(WINDOW *win, int y, int x, const char *utf8, int n, attr_t attrs, int pair) {
    attr_t old_attrs;
    int old_pair;
    short old_short_pair;
    wattr_get(win, &old_attrs, &old_short_pair, &old_pair);
    wattr_set(win, attrs, (short)pair, &pair);
    int rc = mvwaddnstr(win, y, x, utf8, n);
    wattr_set(win, old_attrs, old_short_pair, &old_pair);
    return rc;
}

unsigned long ccurses_enable_mouse(bool motion) {
    mmask_t wanted = ALL_MOUSE_EVENTS | (motion ? REPORT_MOUSE_POSITION : 0);
    mmask_t granted = mousemask(wanted, NULL);
    mouseinterval(0);
    return granted;
}

int ccurses_get_mouse(ccurses_mouse *out) {
    MEVENT event;
    if (getmouse(&event) != OK) return ERR;
    mmask_t b = event.bstate;
    out->y = event.y;
    out->x = event.x;
    out->bstate = b;
    out->button = 0;
    out->action = CCURSES_MOUSE_OTHER;
    for (int button = 1; button <= 5; button++) {
        if (b & NCURSES_MOUSE_MASK(button, NCURSES_BUTTON_PRESSED)) {
            out->action = CCURSES_MOUSE_PRESS;
        } else if (b & NCURSES_MOUSE_MASK(button, NCURSES_BUTTON_RELEASED)) {
            out->action = CCURSES_MOUSE_RELEASE;
        } else if (b & NCURSES_MOUSE_MASK(button, NCURSES_BUTTON_CLICKED)) {
            out->action = CCURSES_MOUSE_CLICK;
        } else if (b & NCURSES_MOUSE_MASK(button, NCURSES_DOUBLE_CLICKED)) {
            out->action = CCURSES_MOUSE_DOUBLE_CLICK;
        } else {
            continue;
        }
        out->button = button;
        return OK;
    }
    if (b & REPORT_MOUSE_POSITION) out->action = CCURSES_MOUSE_MOTION;
    return OK;
}
