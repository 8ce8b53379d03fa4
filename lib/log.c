/*
 * log — stderr and/or syslog, optional JSON lines (log.h).
 *
 * Small on purpose: one formatting path (log_vmsg), one output per
 * destination.  The syslog socket is opened at log_init (LOG_NDELAY) so it
 * survives a later chroot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#define LIBBSD_OPENBSD_VIS 1
#include <bsd/vis.h>

#include "log.h"

#define LOG_LINE_MAX	4096

static const char	*log_ident = "wharf";
static int		 log_flags = LOG_TO_STDERR;
static enum log_level	 log_min = LOG_LEVEL_INFO;
static int		 log_facility = LOG_MAIL;
static log_hook_fn	*log_hook;
static void		*log_hook_arg;
static void		(*log_fatal_hook)(void);

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERR] = "error",
};

static const int level_prio[] = {
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_ERR] = LOG_ERR,
};

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *ident, int flags, enum log_level level)
{
	log_ident = ident;
	log_min = level;
	log_set_flags(flags);
}

void
log_set_flags(int flags)
{
	if ((log_flags & LOG_TO_SYSLOG) && !(flags & LOG_TO_SYSLOG))
		closelog();
	log_flags = flags;
	if (flags & LOG_TO_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
}

int
log_get_flags(void)
{
	return log_flags;
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

void
log_set_facility(int facility)
{
	log_facility = facility;
	if (log_flags & LOG_TO_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, log_facility);
	}
}

int
log_level_from_name(const char *name)
{
	size_t	 n = sizeof(level_names) / sizeof(level_names[0]);

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

int
log_facility_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

void
log_set_hook(log_hook_fn *fn, void *arg)
{
	log_hook = fn;
	log_hook_arg = arg;
}

void
log_set_fatal_hook(void (*fn)(void))
{
	log_fatal_hook = fn;
}

char *
log_safe(char *out, size_t out_size, const char *in, size_t in_len)
{
	char	 enc[16];
	size_t	 o = 0, mark = 0, i, n;

	if (out_size == 0)
		return out;
	for (i = 0; i < in_len; i++) {
		vis(enc, (unsigned char)in[i], VIS_OCTAL | VIS_CSTYLE |
		    VIS_NL | VIS_TAB, i + 1 < in_len ? in[i + 1] : '\0');
		n = strlen(enc);
		if (o + n >= out_size)
			break;
		memcpy(out + o, enc, n);
		o += n;
		/* Last escape boundary that still leaves room for "...". */
		if (o + 4 <= out_size)
			mark = o;
	}
	out[o] = '\0';
	/*
	 * Mark a cut so an admin knows the line is not the whole input; cut
	 * between escapes, never inside one ("\0..." would read as a NUL).
	 */
	if (i < in_len && out_size >= 4)
		memcpy(out + mark, "...", 4);
	return out;
}

/* Append s as a JSON string body (escaped) to out[*len]. */
static void
json_escape(char *out, size_t size, size_t *len, const char *s)
{
	for (; *s != '\0' && *len + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[(*len)++] = '\\';
			out[(*len)++] = (char)c;
		} else if (c < 0x20) {
			*len += (size_t)snprintf(out + *len, size - *len,
			    "\\u%04x", c);
		} else
			out[(*len)++] = (char)c;
	}
	out[*len] = '\0';
}

static void
log_stderr_text(enum log_level level, const char *msg)
{
	if (level >= LOG_LEVEL_WARN)
		fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident, (long)getpid(),
		    level_names[level], msg);
	else
		fprintf(stderr, "%s[%ld]: %s\n", log_ident, (long)getpid(),
		    msg);
}

static void	json_put(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Append a format result to out[*len], clamping *len on truncation. */
static void
json_put(char *out, size_t size, size_t *len, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*len >= size - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		out[*len] = '\0';
	else if ((size_t)n >= size - *len)
		*len = size - 1;
	else
		*len += (size_t)n;
}

static void
log_stderr_json(enum log_level level, const char *msg)
{
	char		 line[LOG_LINE_MAX * 2];
	char		 ts[40];
	size_t		 len = 0;
	struct timespec	 now;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	json_put(line, sizeof(line), &len,
	    "{\"ts\":\"%s.%03ldZ\",\"proc\":\"", ts, now.tv_nsec / 1000000);
	json_escape(line, sizeof(line), &len, log_ident);
	json_put(line, sizeof(line), &len,
	    "\",\"pid\":%ld,\"level\":\"%s\",\"msg\":\"", (long)getpid(),
	    level_names[level]);
	json_escape(line, sizeof(line), &len, msg);
	fprintf(stderr, "%s\"}\n", line);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 saved = errno;

	if (level < log_min && log_hook == NULL)
		goto out;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_hook != NULL)
		log_hook(level, msg, log_hook_arg);
	if (level < log_min)
		goto out;
	if (log_flags & LOG_TO_STDERR) {
		if (log_flags & LOG_JSON)
			log_stderr_json(level, msg);
		else
			log_stderr_text(level, msg);
	}
	if (log_flags & LOG_TO_SYSLOG)
		syslog(level_prio[level], "%s", msg);
out:
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vmsg(level, fmt, ap);			\
	va_end(ap);					\
}
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_warnx, LOG_LEVEL_WARN)

static void	log_verr(enum log_level, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
log_verr(enum log_level level, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_msg(level, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

static _Noreturn void
log_die(void)
{
	if (log_fatal_hook != NULL)
		log_fatal_hook();
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	log_die();
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	log_die();
}
