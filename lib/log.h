/*
 * log — the one logger: stderr and/or syslog, optional JSON lines.
 *
 * Lines read "<id> <event> key=value ..." (STYLE.md).  log_warn() appends
 * ": strerror(errno)", log_warnx() does not.  fatal()/fatalx() log at
 * LOG_LEVEL_ERR and exit(1); a test may install a hook that runs first
 * (and may longjmp out).
 *
 * Untrusted strings must go through log_safe() before being logged.
 */
#ifndef WHARF_LOG_H
#define WHARF_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERR,
};

#define LOG_TO_STDERR	0x01
#define LOG_TO_SYSLOG	0x02
#define LOG_JSON	0x04	/* stderr lines as JSON objects */

/* ident: program name ("smtpd"); flags: LOG_TO_*|LOG_JSON. */
void	log_init(const char *ident, int flags, enum log_level level);
void	log_set_level(enum log_level);
void	log_set_flags(int flags);
int	log_get_flags(void);
/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int	log_level_from_name(const char *);
/* syslog facility by name ("mail", "local0"...); -1 when unknown. */
int	log_facility_from_name(const char *);
void	log_set_facility(int facility);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
_Noreturn void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Test hooks.  The line hook sees every formatted message (without
 * timestamp/ident) and the level; the fatal hook runs before exit(1).
 */
typedef void log_hook_fn(enum log_level, const char *msg, void *arg);
void	log_set_hook(log_hook_fn *, void *arg);
void	log_set_fatal_hook(void (*)(void));

/*
 * Make untrusted bytes safe for one log line: non-printables are
 * strnvis(3)-encoded and the result is capped at out_size - 1 bytes
 * ("..." marks a cut).  Returns out.
 */
char	*log_safe(char *out, size_t out_size, const char *in, size_t in_len);

#endif
