/*
 * Unit tests for lib/log.c.  stderr is captured by pointing fd 2 at a
 * temporary file; JSON lines are checked with a small strict parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define MAX_SEEN	8

struct seen {
	int			 n;
	enum log_level		 level[MAX_SEEN];
	char			 msg[MAX_SEEN][256];
};

static jmp_buf	fatal_jmp;
static int	saved_stderr = -1;
static FILE	*capture;

static void
hook(enum log_level level, const char *msg, void *arg)
{
	struct seen	*s = arg;

	if (s->n >= MAX_SEEN)
		return;
	s->level[s->n] = level;
	snprintf(s->msg[s->n], sizeof(s->msg[s->n]), "%s", msg);
	s->n++;
}

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

static void
capture_start(void)
{
	assert_non_null(capture = tmpfile());
	fflush(stderr);
	assert_true((saved_stderr = dup(2)) != -1);
	assert_int_equal(dup2(fileno(capture), 2), 2);
}

/* Stop capturing; the caller frees the returned text. */
static char *
capture_end(void)
{
	char	*text;
	long	 len;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, 2), 2);
	close(saved_stderr);
	saved_stderr = -1;
	assert_int_equal(fseek(capture, 0, SEEK_END), 0);
	len = ftell(capture);
	rewind(capture);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, capture), (size_t)len);
	fclose(capture);
	capture = NULL;
	return text;
}

static int
setup(void **state)
{
	log_init("test", LOG_TO_STDERR, LOG_LEVEL_DEBUG);
	log_set_hook(NULL, NULL);
	log_set_fatal_hook(NULL);
	return 0;
}

static void
test_hook_levels(void **state)
{
	struct seen	 s = { 0 };
	char		*out;

	log_set_hook(hook, &s);
	capture_start();
	log_debug("d %d", 1);
	log_info("i %s", "x");
	log_warnx("w");
	log_msg(LOG_LEVEL_ERR, "e%c", '!');
	out = capture_end();
	log_set_hook(NULL, NULL);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.level[0], LOG_LEVEL_DEBUG);
	assert_string_equal(s.msg[0], "d 1");
	assert_int_equal(s.level[1], LOG_LEVEL_INFO);
	assert_string_equal(s.msg[1], "i x");
	assert_int_equal(s.level[2], LOG_LEVEL_WARN);
	assert_string_equal(s.msg[2], "w");
	assert_int_equal(s.level[3], LOG_LEVEL_ERR);
	assert_string_equal(s.msg[3], "e!");
	assert_non_null(strstr(out, "test["));
	assert_non_null(strstr(out, "]: d 1\n"));
	assert_non_null(strstr(out, "]: i x\n"));
	assert_non_null(strstr(out, "]: warn: w\n"));
	assert_non_null(strstr(out, "]: error: e!\n"));
	free(out);
}

/* The hook sees everything; only output respects the minimum level. */
static void
test_level_filter(void **state)
{
	struct seen	 s = { 0 };
	char		*out;

	log_set_level(LOG_LEVEL_WARN);
	log_set_hook(hook, &s);
	capture_start();
	log_debug("quiet debug");
	log_info("quiet info");
	log_warnx("loud warn");
	out = capture_end();
	assert_int_equal(s.n, 3);
	assert_string_equal(s.msg[0], "quiet debug");
	assert_string_equal(s.msg[1], "quiet info");
	assert_null(strstr(out, "quiet"));
	assert_non_null(strstr(out, "loud warn"));
	free(out);

	/* Without a hook, filtered messages are not even formatted. */
	log_set_hook(NULL, NULL);
	capture_start();
	log_info("still quiet");
	out = capture_end();
	assert_string_equal(out, "");
	free(out);
	log_set_level(LOG_LEVEL_DEBUG);
}

static void
test_warn_errno(void **state)
{
	struct seen	 s = { 0 };

	log_set_flags(0);
	log_set_hook(hook, &s);
	errno = ENOENT;
	log_warn("open %s", "/x");
	/* errno survives logging, so a caller can still use it. */
	assert_int_equal(errno, ENOENT);
	errno = EACCES;
	log_warnx("no errno here");
	assert_int_equal(errno, EACCES);
	log_set_hook(NULL, NULL);
	log_set_flags(LOG_TO_STDERR);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.level[0], LOG_LEVEL_WARN);
	assert_string_equal(s.msg[0], "open /x: No such file or directory");
	assert_string_equal(s.msg[1], "no errno here");
}

static void
test_fatal_hooks(void **state)
{
	struct seen	 s = { 0 };
	volatile int	 jumped = 0;

	log_set_flags(0);
	log_set_hook(hook, &s);
	log_set_fatal_hook(fatal_hook);
	if (setjmp(fatal_jmp) == 0)
		fatalx("broken %s", "invariant");
	else
		jumped++;
	errno = EPERM;
	if (setjmp(fatal_jmp) == 0)
		fatal("setuid %d", 0);
	else
		jumped++;
	log_set_fatal_hook(NULL);
	log_set_hook(NULL, NULL);
	log_set_flags(LOG_TO_STDERR);
	assert_int_equal(jumped, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.level[0], LOG_LEVEL_ERR);
	assert_string_equal(s.msg[0], "broken invariant");
	assert_int_equal(s.level[1], LOG_LEVEL_ERR);
	assert_string_equal(s.msg[1], "setuid 0: Operation not permitted");
}

/* Without a hook fatal really exits 1 (in a child). */
static void
test_fatal_exits(void **state)
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		log_set_flags(0);
		fatalx("bye");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

static void
test_log_safe_table(void **state)
{
	static const struct {
		const char	*in;
		size_t		 in_len;
		const char	*out;
	} cases[] = {
		{ "abc", 3, "abc" },
		{ "", 0, "" },
		{ "a b", 3, "a b" },
		{ "a\nb", 3, "a\\nb" },
		{ "a\r\n", 3, "a\\r\\n" },
		{ "\t", 1, "\\t" },
		{ "\x01\x1b[0m", 5, "\\001\\033[0m" },
		{ "\x7f", 1, "\\177" },
		{ "\x80\xff", 2, "\\200\\377" },
		{ "caf\xc3\xa9", 5, "caf\\303\\251" },
		{ "a\\b", 3, "a\\\\b" },
		{ "q\"", 2, "q\"" },
		/* Embedded NUL: not the end of the input. */
		{ "a\0b", 3, "a\\0b" },
		/* NUL before a digit must not read as an octal escape. */
		{ "a\0" "1", 3, "a\\0001" },
		{ "\0", 1, "\\0" },
		/* in_len, not strlen, decides. */
		{ "abcdef", 3, "abc" },
	};
	char	 out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(log_safe(out, sizeof(out), cases[i].in,
		    cases[i].in_len), out);
		assert_string_equal(out, cases[i].out);
	}
}

/* out_size bytes at most, NUL-terminated, canary after them untouched. */
static void
check_safe(const char *in, size_t out_size, const char *want)
{
	char	 out[64];

	memset(out, '#', sizeof(out));
	log_safe(out, out_size, in, strlen(in));
	if (out_size == 0) {
		assert_int_equal(out[0], '#');
		return;
	}
	assert_true(strlen(out) < out_size);
	assert_string_equal(out, want);
	for (size_t i = out_size; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
}

static void
test_log_safe_truncation(void **state)
{
	check_safe("abcdefghij", 0, "");
	check_safe("abcdefghij", 1, "");
	check_safe("abcdefghij", 2, "a");
	check_safe("abcdefghij", 3, "ab");
	check_safe("abcdefghij", 4, "...");
	check_safe("abcdefghij", 5, "a...");
	check_safe("abcdefghij", 8, "abcd...");
	/* Exact fit: everything shown, no marker. */
	check_safe("abcdefg", 8, "abcdefg");
	check_safe("abcdefgh", 8, "abcd...");
	/* The cut falls between escapes, never inside one. */
	check_safe("ab\x01" "cdef", 8, "ab...");
	check_safe("ab\x01", 8, "ab\\001");
	check_safe("abc\x01", 8, "abc\\001");
	check_safe("abcd\x01", 8, "abcd...");
	check_safe("\n\n\n\n\n", 8, "\\n\\n...");
	check_safe("\n\n\n", 8, "\\n\\n\\n");
	check_safe("\x01\x01", 8, "\\001...");
}

/*
 * Strict JSON for one flat object of strings and integers: returns the
 * unescaped value of key (caller frees) or NULL if the line is invalid
 * or has no such key.
 */
static const char *
json_string(const char *p, char *out, size_t size)
{
	size_t	 o = 0;
	unsigned v;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || o + 2 >= size)
			return NULL;
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		switch (*++p) {
		case '"': case '\\': case '/':
			out[o++] = *p;
			break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u':
			if (sscanf(p + 1, "%4x", &v) != 1 || v > 0xff)
				return NULL;
			out[o++] = (char)v;
			p += 4;
			break;
		default:
			return NULL;
		}
	}
	out[o] = '\0';
	return p + 1;
}

static char *
json_get(const char *line, const char *key)
{
	char		 k[64], v[8192], *found = NULL;
	const char	*p = line;

	if (*p++ != '{')
		return NULL;
	for (;;) {
		if ((p = json_string(p, k, sizeof(k))) == NULL || *p++ != ':')
			break;
		if (*p == '"') {
			if ((p = json_string(p, v, sizeof(v))) == NULL)
				break;
		} else {
			size_t n = strspn(p, "0123456789");

			if (n == 0 || n >= sizeof(v))
				break;
			memcpy(v, p, n);
			v[n] = '\0';
			p += n;
		}
		if (strcmp(k, key) == 0 && found == NULL)
			found = strdup(v);
		if (*p == ',') {
			p++;
			continue;
		}
		if (strcmp(p, "}\n") == 0)
			return found;
		break;
	}
	free(found);
	return NULL;
}

static void
test_json(void **state)
{
	static const char	 msg[] = "say \"hi\" \\ back\x01\x1f\n\tend";
	char			*out, *v;

	log_init("smtp\"d", LOG_TO_STDERR | LOG_JSON, LOG_LEVEL_DEBUG);
	capture_start();
	log_warnx("%s", msg);
	out = capture_end();
	log_init("test", LOG_TO_STDERR, LOG_LEVEL_DEBUG);
	/* One line, no raw control characters inside it. */
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n')[1], '\0');
	assert_non_null(v = json_get(out, "msg"));
	assert_string_equal(v, msg);
	free(v);
	assert_non_null(v = json_get(out, "level"));
	assert_string_equal(v, "warn");
	free(v);
	assert_non_null(v = json_get(out, "proc"));
	assert_string_equal(v, "smtp\"d");
	free(v);
	assert_non_null(v = json_get(out, "pid"));
	assert_int_equal(strtol(v, NULL, 10), getpid());
	free(v);
	assert_non_null(v = json_get(out, "ts"));
	assert_int_equal(strlen(v), strlen("2024-01-01T00:00:00.000Z"));
	free(v);
	free(out);
}

/* A message that escapes to more than the line holds stays valid JSON. */
static void
test_json_long(void **state)
{
	char	 msg[4000], *out, *v;

	memset(msg, '"', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	msg[100] = '\x02';
	log_set_flags(LOG_TO_STDERR | LOG_JSON);
	capture_start();
	log_info("%s", msg);
	out = capture_end();
	log_set_flags(LOG_TO_STDERR);
	assert_non_null(v = json_get(out, "msg"));
	assert_true(strlen(v) > 1000);
	assert_memory_equal(v, msg, strlen(v));
	free(v);
	free(out);
}

static void
test_names(void **state)
{
	assert_int_equal(log_level_from_name("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_from_name("info"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_from_name("WARN"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_from_name("error"), LOG_LEVEL_ERR);
	assert_int_equal(log_level_from_name("warning"), -1);
	assert_int_equal(log_level_from_name(""), -1);
	assert_int_equal(log_level_from_name("err"), -1);
	assert_int_equal(log_facility_from_name("mail"), LOG_MAIL);
	assert_int_equal(log_facility_from_name("daemon"), LOG_DAEMON);
	assert_int_equal(log_facility_from_name("user"), LOG_USER);
	assert_int_equal(log_facility_from_name("local0"), LOG_LOCAL0);
	assert_int_equal(log_facility_from_name("LOCAL7"), LOG_LOCAL7);
	assert_int_equal(log_facility_from_name("local8"), -1);
	assert_int_equal(log_facility_from_name("kern"), -1);
	assert_int_equal(log_facility_from_name(""), -1);
}

static void
test_flags(void **state)
{
	struct seen	 s = { 0 };

	log_set_flags(LOG_TO_STDERR | LOG_JSON);
	assert_int_equal(log_get_flags(), LOG_TO_STDERR | LOG_JSON);
	/* Syslog on and off again, with a facility change in between. */
	log_set_flags(LOG_TO_SYSLOG);
	assert_int_equal(log_get_flags(), LOG_TO_SYSLOG);
	log_set_facility(LOG_LOCAL3);
	log_set_hook(hook, &s);
	log_info("to syslog");
	log_set_hook(NULL, NULL);
	assert_int_equal(s.n, 1);
	log_set_facility(LOG_MAIL);
	log_set_flags(LOG_TO_STDERR);
	assert_int_equal(log_get_flags(), LOG_TO_STDERR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_hook_levels, setup),
		cmocka_unit_test_setup(test_level_filter, setup),
		cmocka_unit_test_setup(test_warn_errno, setup),
		cmocka_unit_test_setup(test_fatal_hooks, setup),
		cmocka_unit_test_setup(test_fatal_exits, setup),
		cmocka_unit_test_setup(test_log_safe_table, setup),
		cmocka_unit_test_setup(test_log_safe_truncation, setup),
		cmocka_unit_test_setup(test_json, setup),
		cmocka_unit_test_setup(test_json_long, setup),
		cmocka_unit_test_setup(test_names, setup),
		cmocka_unit_test_setup(test_flags, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
