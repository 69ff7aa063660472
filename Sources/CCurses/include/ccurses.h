// CCurses: the part of ncursesw that Swift cannot import directly (macros, mutable globals,
// variadic calls). Plain functions of curses.h (wgetch, wrefresh, werase, cbreak, noecho,
// curs_set, wtimeout, ...) and integer macros (KEY_UP, KEY_RESIZE, KEY_MOUSE, ERR, OK,
// COLOR_*) are importable as is and are used straight from <ncursesw/curses.h>.
#ifndef CCURSES_H
#define CCURSES_H

// SwiftPM drops ncursesw's -D_XOPEN_SOURCE=600; this is what turns the wide-character API on.
#define NCURSES_WIDECHAR 1
#include <ncursesw/curses.h>
#include <stdbool.h>
#include <stdio.h>
#include <wchar.h>

// Text attributes behind the A_* macros.
typedef enum ccurses_attr_id {
    CCURSES_ATTR_NORMAL,
    CCURSES_ATTR_BOLD,
    CCURSES_ATTR_DIM,
    CCURSES_ATTR_REVERSE,
    CCURSES_ATTR_UNDERLINE,
    CCURSES_ATTR_ITALIC,
    CCURSES_ATTR_STANDOUT,
} ccurses_attr_id;

// Line-drawing glyphs behind the ACS_* macros (fallback when the locale is not UTF-8).
typedef enum ccurses_acs_id {
    CCURSES_ACS_HLINE,
    CCURSES_ACS_VLINE,
    CCURSES_ACS_ULCORNER,
    CCURSES_ACS_URCORNER,
    CCURSES_ACS_LLCORNER,
    CCURSES_ACS_LRCORNER,
    CCURSES_ACS_LTEE,
    CCURSES_ACS_RTEE,
    CCURSES_ACS_TTEE,
    CCURSES_ACS_BTEE,
    CCURSES_ACS_PLUS,
    CCURSES_ACS_BLOCK,
    CCURSES_ACS_CKBOARD,
    CCURSES_ACS_BULLET,
} ccurses_acs_id;

// What a mouse event did, decoded from the BUTTONn_* bits of its bstate.
typedef enum ccurses_mouse_action {
    CCURSES_MOUSE_PRESS,
    CCURSES_MOUSE_RELEASE,
    CCURSES_MOUSE_CLICK,
    CCURSES_MOUSE_DOUBLE_CLICK,
    CCURSES_MOUSE_MOTION,
    CCURSES_MOUSE_OTHER,
} ccurses_mouse_action;

// One mouse event; button is 1 left, 2 middle, 3 right, 4 wheel up, 5 wheel down, 0 none.
typedef struct ccurses_mouse {
    int y;
    int x;
    int button;
    ccurses_mouse_action action;
    unsigned long bstate;
} ccurses_mouse;

// setlocale(LC_ALL, "") from the environment; true when the resulting codeset is UTF-8.
bool ccurses_setlocale(void);
// newterm(term, out, in) and set_term on the result; term NULL reads $TERM; NULL on failure.
SCREEN *ccurses_newterm(const char *term, FILE *out, FILE *in);
// delscreen: frees a screen from ccurses_newterm after ccurses_endwin.
void ccurses_delscreen(SCREEN *screen);
// endwin: restores the terminal; call on exit and from signal handlers.
int ccurses_endwin(void);
// The stdscr global of the current screen.
WINDOW *ccurses_stdscr(void);
// getmaxyx: size of a window in rows and columns.
void ccurses_getmaxyx(WINDOW *win, int *rows, int *cols);
// Size of the terminal on fd via TIOCGWINSZ; 0 on success, -errno on failure.
int ccurses_terminal_size(int fd, int *rows, int *cols);
// is_term_resized: true when rows x cols differs from the size curses has.
bool ccurses_is_term_resized(int rows, int cols);
// resizeterm: resizes stdscr and curscr to rows x cols; OK or ERR.
int ccurses_resizeterm(int rows, int cols);
// keypad: decode function, arrow and mouse keys into KEY_* codes on win; OK or ERR.
int ccurses_keypad(WINDOW *win, bool on);
// start_color if the terminal has colours; OK or ERR.
int ccurses_start_color(void);
// use_default_colors: lets colour -1 mean the terminal's own foreground/background; OK or ERR.
int ccurses_use_default_colors(void);
// The COLORS global: number of colours the terminal has (0 before start_color).
int ccurses_colors(void);
// The COLOR_PAIRS global: number of colour pairs (0 before start_color).
int ccurses_color_pairs(void);
// init_extended_pair: colour pair number pair draws fg on bg (-1 = default); OK or ERR.
int ccurses_init_pair(int pair, int fg, int bg);
// Value of an A_* attribute.
attr_t ccurses_attr(ccurses_attr_id id);
// Value of an ACS_* glyph; 0 until ccurses_newterm has run.
chtype ccurses_acs(ccurses_acs_id id);
// Draws wide character ch at (y, x) of win with attrs and colour pair; OK or ERR.
int ccurses_put_wch(WINDOW *win, int y, int x, wchar_t ch, attr_t attrs, int pair);
// Draws at most n bytes of UTF-8 text at (y, x) of win with attrs and pair (n -1: all); OK or ERR.
int ccurses_put_str(WINDOW *win, int y, int x, const char *utf8, int n, attr_t attrs, int pair);
// mousemask for all button events (plus motion when asked) and mouseinterval(0); granted mask.
unsigned long ccurses_enable_mouse(bool motion);
// getmouse after wgetch returned KEY_MOUSE, decoded into out; OK or ERR.
int ccurses_get_mouse(ccurses_mouse *out);

#endif
