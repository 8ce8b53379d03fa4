/*
 * test_conf — main.conf: parsing, expansion, typed values, printing,
 * serialisation, in-place editing, and the generated documentation
 * (etc/main.conf and the key table of man/main.conf.5).
 *
 * Run from the top of the source tree (make unit does).  With
 * WHARF_REGEN_DOCS=1 in the environment, test_docs rewrites etc/main.conf
 * and the man page's key table from lib/conf_keys.c instead of comparing.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bsd/string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "xmalloc.h"

/*
 * A second copy of conf.c, compiled here against a key table of the
 * test's own (tb_keys, switchable at run time), for what the real table
 * cannot reach: no real key is a CONF_BOOL, and every real default is
 * valid.  Its exported names get a tb_ prefix.
 */
static const struct conf_key	*tb_keys;
static size_t			 tb_nkeys;
#define conf_keys		tb_keys
#define conf_nkeys		tb_nkeys
#define conf_load		tb_load
#define conf_parse		tb_parse
#define conf_defaults		tb_defaults
#define conf_free		tb_free
#define conf_key_find		tb_key_find
#define conf_str		tb_str
#define conf_int		tb_int
#define conf_bool		tb_bool
#define conf_list		tb_list
#define conf_is_set		tb_is_set
#define conf_raw		tb_raw
/* Function-like: the enum conf_print keeps its name. */
#define conf_print(c, w, fp)	tb_print(c, w, fp)
#define conf_write_sample	tb_write_sample
#define conf_write_mdoc_table	tb_write_mdoc_table
#define conf_serialize		tb_serialize
#define conf_file_set		tb_file_set
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include "../../lib/conf.c"
#pragma GCC diagnostic pop
#undef conf_keys
#undef conf_nkeys
#undef conf_load
#undef conf_parse
#undef conf_defaults
#undef conf_free
#undef conf_key_find
#undef conf_str
#undef conf_int
#undef conf_bool
#undef conf_list
#undef conf_is_set
#undef conf_raw
#undef conf_print
#undef conf_write_sample
#undef conf_write_mdoc_table
#undef conf_serialize
#undef conf_file_set

#define SAMPLE_PATH	"etc/main.conf"
#define MAN_PATH	"man/main.conf.5"
#define MAN_BEGIN	".\\\" BEGIN KEYS\n"
#define MAN_END		".\\\" END KEYS\n"

static char	 tmpdir[] = "/tmp/test_conf.XXXXXX";

/* Helpers. */

static struct conf *
parse(const char *text, char **err_r)
{
	return conf_parse(text, strlen(text), "t.conf", err_r);
}

/* text must parse; the caller frees. */
static struct conf *
parse_ok(const char *text)
{
	struct conf	*c;
	char		*err = NULL;

	c = parse(text, &err);
	if (c == NULL)
		fail_msg("parse of \"%s\" failed: %s", text, err);
	assert_null(err);
	return c;
}

static char *
escape_dollars(const char *s)
{
	struct buf	 b;

	buf_init(&b, SIZE_MAX);
	for (; *s != '\0'; s++) {
		if (*s == '$')
			assert_int_equal(buf_add_u8(&b, '$'), 0);
		assert_int_equal(buf_add_u8(&b, (uint8_t)*s), 0);
	}
	return buf_steal(&b, NULL);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE	*fp = fopen(path, "r");
	char	*data;
	long	 len;

	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((len = ftell(fp)) >= 0);
	rewind(fp);
	data = xmalloc((size_t)len + 1);
	assert_int_equal(fread(data, 1, (size_t)len, fp), (size_t)len);
	data[len] = '\0';
	fclose(fp);
	if (len_r != NULL)
		*len_r = (size_t)len;
	return data;
}

static void
spew(const char *path, const char *data, size_t len)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* What fn writes to a FILE, as a string. */
static char *
capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&out, &len);

	assert_non_null(fp);
	fn(fp, arg);
	assert_int_equal(fclose(fp), 0);
	return out;
}

static void
cap_sample(FILE *fp, const void *arg)
{
	conf_write_sample(fp);
}

static void
cap_mdoc(FILE *fp, const void *arg)
{
	conf_write_mdoc_table(fp);
}

struct print_arg {
	const struct conf	*conf;
	enum conf_print		 what;
};

static void
cap_print(FILE *fp, const void *arg)
{
	const struct print_arg	*pa = arg;

	conf_print(pa->conf, pa->what, fp);
}

static char *
print_to_string(const struct conf *c, enum conf_print what)
{
	struct print_arg	 pa = { c, what };

	return capture(cap_print, &pa);
}

/* Fatal paths: the hook jumps back; messages are kept, not printed. */

static jmp_buf	 fatal_jmp;
static char	 last_log[512];

static void
on_fatal(void)
{
	longjmp(fatal_jmp, 1);
}

static void
on_log(enum log_level level, const char *msg, void *arg)
{
	strlcpy(last_log, msg, sizeof(last_log));
}

#define EXPECT_FATAL(expr, substr) do {					\
	volatile int	 fataled_ = 0;					\
									\
	last_log[0] = '\0';						\
	if (setjmp(fatal_jmp) == 0)					\
		(void)(expr);						\
	else								\
		fataled_ = 1;						\
	assert_true(fataled_);						\
	assert_non_null(strstr(last_log, (substr)));			\
} while (0)

/* The key table. */

struct want_key {
	const char	*name;
	enum conf_type	 type;
	const char	*def;
	int64_t		 min, max;
	unsigned	 flags;
};

static const struct want_key want_keys[] = {
	{ "myhostname", CONF_STR, "", 0, 0, CONF_F_HOSTNAME },
	{ "state_dir", CONF_STR, "/var/lib/wharf", 0, 0, CONF_F_PATH },
	{ "run_dir", CONF_STR, "/run/wharf", 0, 0, CONF_F_PATH },
	{ "database", CONF_STR, "embedded", 0, 0, 0 },
	{ "smtp_listen", CONF_LIST, "0.0.0.0:25, [::]:25", 0, 0, 0 },
	{ "submission_listen", CONF_LIST, "0.0.0.0:587, [::]:587", 0, 0, 0 },
	{ "submissions_listen", CONF_LIST, "0.0.0.0:465, [::]:465", 0, 0, 0 },
	{ "imap_listen", CONF_LIST, "0.0.0.0:143, [::]:143", 0, 0, 0 },
	{ "imaps_listen", CONF_LIST, "0.0.0.0:993, [::]:993", 0, 0, 0 },
	{ "admin_listen", CONF_LIST, "127.0.0.1:8080", 0, 0, 0 },
	{ "tls_cert_file", CONF_STR, "$state_dir/tls/cert.pem", 0, 0,
	  CONF_F_PATH },
	{ "tls_key_file", CONF_STR, "$state_dir/tls/key.pem", 0, 0,
	  CONF_F_PATH },
	{ "message_size_limit", CONF_SIZE, "52428800", 1024, 4294967295LL, 0 },
	{ "log_level", CONF_ENUM, "info", 0, 0, 0 },
	{ "log_format", CONF_ENUM, "text", 0, 0, 0 },
	{ "syslog_facility", CONF_ENUM, "mail", 0, 0, 0 },
	{ "wharf_user", CONF_STR, "wharf", 0, 0, 0 },
	{ "wharf_auth_user", CONF_STR, "wharf-auth", 0, 0, 0 },
	{ "wharf_null_user", CONF_STR, "wharf-null", 0, 0, 0 },
	{ "process_limit", CONF_INT, "0", 0, 1024, CONF_F_NCPU },
	{ "service_ready_timeout", CONF_TIME, "10s", 1000, 3600000, 0 },
	{ "service_backoff_min", CONF_TIME, "2s", 100, 3600000, 0 },
	{ "service_backoff_max", CONF_TIME, "60s", 1000, 86400000, 0 },
	{ "shutdown_timeout", CONF_TIME, "30s", 1000, 3600000, 0 },
	{ "postgres_bin_dir", CONF_STR, "", 0, 0, CONF_F_PATH },
	{ "database_shared_buffers", CONF_SIZE, "0", 0, 68719476736LL, 0 },
	{ "db_connect_timeout", CONF_TIME, "10s", 1000, 600000, 0 },
	{ "argon2_time_cost", CONF_INT, "3", 1, 100, 0 },
	{ "argon2_memory_cost", CONF_SIZE, "64m", 8192, 4294967296LL, 0 },
	{ "argon2_parallelism", CONF_INT, "1", 1, 64, 0 },
	{ "recipient_delimiter", CONF_STR, "+", 0, 0, 0 },
	{ "mynetworks", CONF_LIST, "127.0.0.0/8, [::1]/128", 0, 0, 0 },
	{ "authd_cache_ttl", CONF_TIME, "10s", 0, 3600000, 0 },
	{ "authd_cache_size", CONF_INT, "10000", 0, 10000000, 0 },
	{ "authd_workers", CONF_INT, "2", 1, 64, 0 },
	{ "auth_rehash", CONF_BOOL, "yes", 0, 0, 0 },
	{ "auth_failure_delay", CONF_TIME, "2s", 0, 10000, 0 },
	{ "auth_failure_delay_max", CONF_TIME, "15s", 0, 20000, 0 },
	{ "auth_lockout_failures", CONF_INT, "10", 0, 100000, 0 },
	{ "auth_ip_lockout_failures", CONF_INT, "50", 0, 1000000, 0 },
	{ "auth_lockout_time", CONF_TIME, "15m", 1000, 86400000, 0 },
	{ "submission_sender_check", CONF_ENUM, "owned", 0, 0, 0 },
	{ "submission_received_auth", CONF_BOOL, "no", 0, 0, 0 },
	{ "submission_message_rate_limit", CONF_INT, "1000", 0, 10000000, 0 },
	{ "submission_recipient_rate_limit", CONF_INT, "3000", 0, 10000000, 0 },
	{ "queue_retry_min", CONF_TIME, "1m", 1000, 86400000, 0 },
	{ "queue_retry_max", CONF_TIME, "1h", 1000, 604800000, 0 },
	{ "maximal_queue_lifetime", CONF_TIME, "5d", 1000, 8640000000, 0 },
	{ "delay_warning_time", CONF_TIME, "0", 0, 8640000000, 0 },
	{ "mta_concurrency_limit", CONF_INT, "100", 1, 100000, 0 },
	{ "mta_destination_concurrency_limit", CONF_INT, "20", 1, 10000, 0 },
	{ "mta_destination_recipient_limit", CONF_INT, "50", 1, 1000, 0 },
	{ "relayhost", CONF_STR, "", 0, 0, 0 },
	{ "relayhost_auth_file", CONF_STR, "", 0, 0, CONF_F_PATH },
	{ "transport_file", CONF_STR, "", 0, 0, CONF_F_PATH },
	{ "smtp_tls_security_level", CONF_ENUM, "may", 0, 0, 0 },
	{ "smtp_tls_policy_file", CONF_STR, "", 0, 0, CONF_F_PATH },
	{ "smtp_tls_ca_file", CONF_STR, "", 0, 0, CONF_F_PATH },
	{ "smtp_connect_timeout", CONF_TIME, "30s", 1000, 600000, 0 },
	{ "smtp_helo_timeout", CONF_TIME, "300s", 1000, 3600000, 0 },
	{ "smtp_data_timeout", CONF_TIME, "600s", 1000, 3600000, 0 },
	{ "smtp_8bit_conversion", CONF_BOOL, "yes", 0, 0, 0 },
	{ "dns_servers", CONF_LIST, "", 0, 0, 0 },
	{ "dns_dnssec", CONF_BOOL, "yes", 0, 0, 0 },
	{ "dns_timeout", CONF_TIME, "10s", 100, 300000, 0 },
	{ "smtpd_banner", CONF_STR, "$myhostname ESMTP Wharf", 0, 0, 0 },
	{ "smtpd_connection_limit", CONF_INT, "1000", 1, 1000000, 0 },
	{ "smtpd_client_connection_limit", CONF_INT, "20", 1, 1000000, 0 },
	{ "smtpd_recipient_limit", CONF_INT, "1000", 1, 10000, 0 },
	{ "smtpd_error_limit", CONF_INT, "20", 1, 1000, 0 },
	{ "smtpd_timeout", CONF_TIME, "5m", 1000, 3600000, 0 },
	{ "smtpd_data_timeout", CONF_TIME, "10m", 1000, 86400000, 0 },
	{ "smtpd_bare_newline", CONF_ENUM, "reject", 0, 0, 0 },
	{ "imap_login_timeout", CONF_TIME, "1m", 1000, 3600000, 0 },
	{ "imap_timeout", CONF_TIME, "30m", 1800000, 86400000, 0 },
	{ "imap_line_limit", CONF_SIZE, "64k", 1024, 16777216, 0 },
	{ "imap_literal_limit", CONF_SIZE, "64k", 1024, 67108864, 0 },
	{ "imap_connection_limit", CONF_INT, "1000", 1, 1000000, 0 },
	{ "imap_client_connection_limit", CONF_INT, "50", 1, 1000000, 0 },
	{ "imap_user_connection_limit", CONF_INT, "20", 1, 1000000, 0 },
	{ "imap_plaintext_loopback", CONF_BOOL, "no", 0, 0, 0 },
	{ "imap_fts", CONF_BOOL, "yes", 0, 0, 0 },
};
#define NWANT	(sizeof(want_keys) / sizeof(want_keys[0]))

static void
test_key_table(void **state)
{
	assert_int_equal(conf_nkeys, NWANT);
	for (size_t i = 0; i < NWANT; i++) {
		const struct conf_key	*k = &conf_keys[i];
		size_t			 hl = strlen(k->help);

		assert_string_equal(k->name, want_keys[i].name);
		assert_int_equal(k->type, want_keys[i].type);
		assert_string_equal(k->def, want_keys[i].def);
		assert_int_equal(k->flags, want_keys[i].flags);
		if (k->type == CONF_INT || k->type == CONF_SIZE ||
		    k->type == CONF_TIME) {
			assert_int_equal(k->min, want_keys[i].min);
			assert_int_equal(k->max, want_keys[i].max);
		}
		assert_ptr_equal(conf_key_find(k->name), k);
		assert_true(strlen(k->name) <= CONF_KEYNAME_MAX);
		assert_true(hl > 0 && k->help[hl - 1] != '.');
		assert_null(strchr(k->help, '\n'));
		assert_true((k->type == CONF_ENUM) == (k->enum_values != NULL));
	}
	assert_null(conf_key_find("nope"));
	assert_null(conf_key_find(""));
	assert_null(conf_key_find("state_di"));
	assert_null(conf_key_find("state_dirs"));
}

/* Valid input. */

struct valid_case {
	const char	*text;
	const char	*key;
	const char	*want;		/* conf_str */
};

static const struct valid_case valid_cases[] = {
	{ "", "database", "embedded" },
	{ "database = x", "database", "x" },
	{ "database=x\n", "database", "x" },
	{ "database \t=\t  x y  \t\r\n", "database", "x y" },
	{ "database =\n", "database", "" },
	{ "database =   \n", "database", "" },
	{ "database = a\r\nrun_dir = /r\r\n", "database", "a" },
	{ "database = a\r\nrun_dir = /r\r\n", "run_dir", "/r" },
	{ "# comment\n\n   # indented comment\n\t\ndatabase = x\n#",
	  "database", "x" },
	{ "database = host=db password=a#b # not a comment", "database",
	  "host=db password=a#b # not a comment" },
	{ "database = a  b\tc", "database", "a  b\tc" },
	{ "database = a\rb", "database", "a\rb" },
	/* Continuation lines. */
	{ "database = a\n  b\n\tc", "database", "a b c" },
	{ "database =\n  x", "database", "x" },
	{ "database = a  \n   b  \n", "database", "a b" },
	{ "smtp_listen = a:1,\n  b:2\nrun_dir = /r", "smtp_listen",
	  "a:1, b:2" },
	{ "smtp_listen = a:1,\n  b:2\nrun_dir = /r", "run_dir", "/r" },
	/* Duplicates: the later wins. */
	{ "database = a\ndatabase = b\n", "database", "b" },
	/* Expansion. */
	{ "database = $$", "database", "$" },
	{ "database = a$$b", "database", "a$b" },
	{ "database = $$$$", "database", "$$" },
	{ "database = $$state_dir", "database", "$state_dir" },
	{ "database = $state_dir", "database", "/var/lib/wharf" },
	{ "database = ${state_dir}x", "database", "/var/lib/wharfx" },
	{ "database = $state_dir/x", "database", "/var/lib/wharf/x" },
	{ "database = $wharf_user-$wharf_user", "database", "wharf-wharf" },
	{ "database = $run_dir\nrun_dir = $state_dir/run", "database",
	  "/var/lib/wharf/run" },
	{ "state_dir = /s", "tls_cert_file", "/s/tls/cert.pem" },
	{ "state_dir = /s\nstate_dir = /t", "tls_key_file",
	  "/t/tls/key.pem" },
	{ "state_dir =", "tls_cert_file", "/tls/cert.pem" },
	{ "database = $postgres_bin_dir x $postgres_bin_dir", "database",
	  "x" },
	{ "database = $$$state_dir$$", "database", "$/var/lib/wharf$" },
	{ "wharf_user = u\ndatabase = $wharf_user$wharf_auth_user", "database",
	  "uwharf-auth" },
	/* Typed values keep their text. */
	{ "myhostname = mail.example.org", "myhostname", "mail.example.org" },
	{ "log_level = debug", "log_level", "debug" },
	{ "log_format = json", "log_format", "json" },
	{ "syslog_facility = local7", "syslog_facility", "local7" },
	{ "message_size_limit = 10M", "message_size_limit", "10M" },
	{ "smtp_listen =", "smtp_listen", "" },
	{ "run_dir = /x/$$", "run_dir", "/x/$" },
	{ "postgres_bin_dir = /usr/lib/postgresql/15/bin", "postgres_bin_dir",
	  "/usr/lib/postgresql/15/bin" },
};

static void
test_valid(void **state)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]);
	    i++) {
		const struct valid_case	*vc = &valid_cases[i];
		struct conf		*c = parse_ok(vc->text);

		if (strcmp(conf_str(c, vc->key), vc->want) != 0)
			fail_msg("case %zu \"%s\": %s is \"%s\", want \"%s\"",
			    i, vc->text, vc->key, conf_str(c, vc->key),
			    vc->want);
		conf_free(&c);
		assert_null(c);
	}
}

struct num_case {
	const char	*text;
	const char	*key;
	int64_t		 want;
};

static const struct num_case num_cases[] = {
	{ "", "message_size_limit", 52428800 },
	{ "message_size_limit = 1024", "message_size_limit", 1024 },
	{ "message_size_limit = 1k", "message_size_limit", 1024 },
	{ "message_size_limit = 10M", "message_size_limit", 10485760 },
	{ "message_size_limit = 3g", "message_size_limit", 3221225472LL },
	{ "message_size_limit = 4294967295", "message_size_limit",
	  4294967295LL },
	{ "", "argon2_memory_cost", 67108864 },
	{ "argon2_memory_cost = 4G", "argon2_memory_cost", 4294967296LL },
	{ "argon2_memory_cost = 8k", "argon2_memory_cost", 8192 },
	{ "", "service_ready_timeout", 10000 },
	{ "shutdown_timeout = 90", "shutdown_timeout", 90000 },
	{ "shutdown_timeout = 90s", "shutdown_timeout", 90000 },
	{ "shutdown_timeout = 1500ms", "shutdown_timeout", 1500 },
	{ "shutdown_timeout = 1500MS", "shutdown_timeout", 1500 },
	{ "shutdown_timeout = 2m", "shutdown_timeout", 120000 },
	{ "shutdown_timeout = 1h", "shutdown_timeout", 3600000 },
	{ "service_backoff_max = 1d", "service_backoff_max", 86400000 },
	{ "service_backoff_min = 100ms", "service_backoff_min", 100 },
	{ "db_connect_timeout = 10m", "db_connect_timeout", 600000 },
	{ "", "argon2_time_cost", 3 },
	{ "argon2_time_cost = 100", "argon2_time_cost", 100 },
	{ "argon2_time_cost = 007", "argon2_time_cost", 7 },
	{ "argon2_parallelism = 64", "argon2_parallelism", 64 },
	{ "process_limit = 7", "process_limit", 7 },
	{ "process_limit = 1024", "process_limit", 1024 },
	{ "argon2_time_cost = $argon2_parallelism\nargon2_parallelism = 5",
	  "argon2_time_cost", 5 },
};

static void
test_numbers(void **state)
{
	for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case	*nc = &num_cases[i];
		struct conf		*c = parse_ok(nc->text);

		if (conf_int(c, nc->key) != nc->want)
			fail_msg("case %zu \"%s\": %s is %" PRId64 ", want %"
			    PRId64, i, nc->text, nc->key, conf_int(c, nc->key),
			    nc->want);
		conf_free(&c);
	}
}

static void
test_ncpu(void **state)
{
	struct conf	*c = parse_ok("");
	long		 n = sysconf(_SC_NPROCESSORS_ONLN);
	char		 text[32];

	n = n < 1 ? 1 : n > 1024 ? 1024 : n;
	assert_int_equal(conf_int(c, "process_limit"), n);
	snprintf(text, sizeof(text), "%ld", n);
	assert_string_equal(conf_str(c, "process_limit"), text);
	assert_string_equal(conf_raw(c, "process_limit"), "0");
	assert_false(conf_is_set(c, "process_limit"));
	conf_free(&c);

	c = parse_ok("process_limit = 00\ndatabase = x$process_limit");
	assert_int_equal(conf_int(c, "process_limit"), n);
	assert_true(conf_is_set(c, "process_limit"));
	assert_string_equal(conf_str(c, "process_limit"), text);
	assert_string_equal(conf_str(c, "database") + 1, text);
	conf_free(&c);
}

static void
test_hostname(void **state)
{
	struct conf	*c = parse_ok("");
	const char	*h = conf_str(c, "myhostname");
	char		 host[256];

	assert_true(strlen(h) > 0);
	assert_true(conf_hostname_ok(h));
	assert_string_equal(conf_raw(c, "myhostname"), "");
	/* Expanding it gives the resolved name too. */
	conf_free(&c);
	c = parse_ok("myhostname =\ndatabase = host=$myhostname");
	assert_true(strlen(conf_str(c, "myhostname")) > 0);
	assert_true(str_has_prefix(conf_str(c, "database"), "host="));
	assert_string_equal(conf_str(c, "database") + 5,
	    conf_str(c, "myhostname"));
	/* The FQDN starts with the short name, or is the short name. */
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	if (conf_hostname_ok(host))
		assert_true(strncasecmp(conf_str(c, "myhostname"), host,
		    strcspn(host, ".")) == 0);
	conf_free(&c);
}

static void
test_lists(void **state)
{
	struct conf	*c;
	char *const	*l;
	size_t		 n = 99;

	c = parse_ok("smtp_listen = a, b  c,,d\t e ,\nadmin_listen =\n"
	    "imap_listen = ,, ,\nimaps_listen = [::1]:993\n");
	l = conf_list(c, "smtp_listen", &n);
	assert_int_equal(n, 5);
	assert_string_equal(l[0], "a");
	assert_string_equal(l[1], "b");
	assert_string_equal(l[2], "c");
	assert_string_equal(l[3], "d");
	assert_string_equal(l[4], "e");
	assert_null(l[5]);
	l = conf_list(c, "admin_listen", &n);
	assert_int_equal(n, 0);
	assert_null(l[0]);
	l = conf_list(c, "imap_listen", &n);
	assert_int_equal(n, 0);
	assert_null(l[0]);
	l = conf_list(c, "imaps_listen", NULL);
	assert_string_equal(l[0], "[::1]:993");
	assert_null(l[1]);
	l = conf_list(c, "submission_listen", &n);
	assert_int_equal(n, 2);
	assert_string_equal(l[0], "0.0.0.0:587");
	assert_string_equal(l[1], "[::]:587");
	conf_free(&c);
}

static void
test_lookups(void **state)
{
	struct conf	*c;

	c = parse_ok("database = $state_dir/db\nlog_level = warn\n");
	assert_string_equal(conf_str(c, "database"), "/var/lib/wharf/db");
	assert_string_equal(conf_raw(c, "database"), "$state_dir/db");
	assert_true(conf_is_set(c, "database"));
	assert_string_equal(conf_raw(c, "tls_cert_file"),
	    "$state_dir/tls/cert.pem");
	assert_string_equal(conf_str(c, "tls_cert_file"),
	    "/var/lib/wharf/tls/cert.pem");
	assert_false(conf_is_set(c, "tls_cert_file"));
	assert_string_equal(conf_str(c, "log_level"), "warn");
	assert_string_equal(conf_str(c, "message_size_limit"), "52428800");
	assert_string_equal(conf_str(c, "smtp_listen"), "0.0.0.0:25, [::]:25");
	assert_int_equal(conf_int(c, "service_backoff_min"), 2000);
	conf_free(&c);
	conf_free(&c);

	c = conf_defaults();
	for (size_t i = 0; i < conf_nkeys; i++) {
		assert_false(conf_is_set(c, conf_keys[i].name));
		assert_string_equal(conf_raw(c, conf_keys[i].name),
		    conf_keys[i].def);
	}
	conf_free(&c);
}

static void
test_fatal_lookups(void **state)
{
	struct conf	*c = parse_ok("");

	log_set_flags(0);
	log_set_hook(on_log, NULL);
	log_set_fatal_hook(on_fatal);
	EXPECT_FATAL(conf_str(c, "nope"), "unknown key \"nope\"");
	EXPECT_FATAL(conf_int(c, "nope"), "unknown key");
	EXPECT_FATAL(conf_is_set(c, "nope"), "unknown key");
	EXPECT_FATAL(conf_raw(c, ""), "unknown key");
	EXPECT_FATAL(conf_int(c, "database"), "wrong type");
	EXPECT_FATAL(conf_int(c, "smtp_listen"), "wrong type");
	EXPECT_FATAL(conf_bool(c, "database"), "wrong type");
	EXPECT_FATAL(conf_bool(c, "process_limit"), "wrong type");
	EXPECT_FATAL(conf_list(c, "database", NULL), "wrong type");
	EXPECT_FATAL(conf_list(c, "log_level", NULL), "wrong type");
	log_set_fatal_hook(NULL);
	log_set_hook(NULL, NULL);
	log_set_flags(LOG_TO_STDERR);
	conf_free(&c);
}

/* Invalid input: the whole error message. */

struct invalid_case {
	const char	*text;
	const char	*want;
};

static const struct invalid_case invalid_cases[] = {
	/* Syntax. */
	{ "foo = 1\n", "t.conf:1: unknown key \"foo\"" },
	{ "# c\n\nState_dir = /x", "t.conf:3: unknown key \"State_dir\"" },
	{ "state_dir /x", "t.conf:1: missing \"=\" after key" },
	{ "state_dir", "t.conf:1: missing \"=\" after key" },
	{ "state_dir\n= /x", "t.conf:1: missing \"=\" after key" },
	{ "state dir = /x", "t.conf:1: missing \"=\" after key" },
	{ "= /x", "t.conf:1: empty key" },
	{ "state-dir = /x", "t.conf:1: invalid character in key name" },
	{ "-x = 1", "t.conf:1: invalid character in key name" },
	{ "  state_dir = /x",
	  "t.conf:1: continuation line without a setting before it" },
	{ "database = a\n# c\n  b",
	  "t.conf:3: continuation line without a setting before it" },
	{ "database = a\n\n  b",
	  "t.conf:3: continuation line without a setting before it" },
	{ "database = a\n  # c\n  b",
	  "t.conf:3: continuation line without a setting before it" },
	{ "database = a\n  b\nnope = 1", "t.conf:3: unknown key \"nope\"" },
	/* Numbers. */
	{ "\n\nargon2_time_cost = abc\n",
	  "t.conf:3: argon2_time_cost: \"abc\": not a number" },
	{ "argon2_time_cost =",
	  "t.conf:1: argon2_time_cost: \"\": not a number" },
	{ "argon2_time_cost = +5",
	  "t.conf:1: argon2_time_cost: \"+5\": not a number" },
	{ "argon2_time_cost = 5s",
	  "t.conf:1: argon2_time_cost: \"5s\": not a number" },
	{ "argon2_time_cost = 0",
	  "t.conf:1: argon2_time_cost: \"0\": too small (min 1)" },
	{ "argon2_time_cost = -1",
	  "t.conf:1: argon2_time_cost: \"-1\": too small (min 1)" },
	{ "argon2_time_cost = 101",
	  "t.conf:1: argon2_time_cost: \"101\": too large (max 100)" },
	{ "argon2_time_cost = 99999999999999999999",
	  "t.conf:1: argon2_time_cost: \"99999999999999999999\": too large" },
	{ "process_limit = 1025",
	  "t.conf:1: process_limit: \"1025\": too large (max 1024)" },
	{ "message_size_limit = 1023",
	  "t.conf:1: message_size_limit: \"1023\": too small (min 1k)" },
	{ "message_size_limit = 4g",
	  "t.conf:1: message_size_limit: \"4g\": too large (max 4294967295)" },
	{ "message_size_limit = 12x",
	  "t.conf:1: message_size_limit: \"12x\": bad unit (use k, m or g)" },
	{ "message_size_limit = 12 k",
	  "t.conf:1: message_size_limit: \"12 k\": bad unit (use k, m or g)" },
	{ "message_size_limit = 12kb",
	  "t.conf:1: message_size_limit: \"12kb\": bad unit (use k, m or g)" },
	{ "message_size_limit = k",
	  "t.conf:1: message_size_limit: \"k\": not a number" },
	{ "message_size_limit = 99999999999g",
	  "t.conf:1: message_size_limit: \"99999999999g\": too large" },
	{ "argon2_memory_cost = 4097m",
	  "t.conf:1: argon2_memory_cost: \"4097m\": too large (max 4g)" },
	{ "argon2_memory_cost = 8191",
	  "t.conf:1: argon2_memory_cost: \"8191\": too small (min 8k)" },
	{ "shutdown_timeout = 5y",
	  "t.conf:1: shutdown_timeout: \"5y\": bad unit (use ms, s, m, h or "
	  "d)" },
	{ "shutdown_timeout = 999ms",
	  "t.conf:1: shutdown_timeout: \"999ms\": too small (min 1s)" },
	{ "shutdown_timeout = 61m",
	  "t.conf:1: shutdown_timeout: \"61m\": too large (max 1h)" },
	{ "service_backoff_min = 99ms",
	  "t.conf:1: service_backoff_min: \"99ms\": too small (min 100ms)" },
	{ "service_backoff_max = 25h",
	  "t.conf:1: service_backoff_max: \"25h\": too large (max 1d)" },
	{ "db_connect_timeout = 1.5s",
	  "t.conf:1: db_connect_timeout: \"1.5s\": bad unit (use ms, s, m, h "
	  "or d)" },
	/* Keywords and paths. */
	{ "log_level = verbose",
	  "t.conf:1: log_level: \"verbose\": not one of "
	  "debug|info|warn|error" },
	{ "log_level = INFO",
	  "t.conf:1: log_level: \"INFO\": not one of debug|info|warn|error" },
	{ "log_level =",
	  "t.conf:1: log_level: \"\": not one of debug|info|warn|error" },
	{ "log_format = info|text",
	  "t.conf:1: log_format: \"info|text\": not one of text|json" },
	{ "log_format = tex",
	  "t.conf:1: log_format: \"tex\": not one of text|json" },
	{ "state_dir = var/lib",
	  "t.conf:1: state_dir: \"var/lib\": not an absolute path" },
	{ "run_dir = $database",
	  "t.conf:1: run_dir: \"embedded\": not an absolute path" },
	{ "postgres_bin_dir = ~/bin",
	  "t.conf:1: postgres_bin_dir: \"~/bin\": not an absolute path" },
	{ "run_dir = /a\n\ntls_key_file = $$/x",
	  "t.conf:3: tls_key_file: \"$/x\": not an absolute path" },
	{ "database = x\nlog_level = a\x01",
	  "t.conf:2: log_level: \"a\\001\": not one of "
	  "debug|info|warn|error" },
	/* Expansion. */
	{ "run_dir = $nope/x", "t.conf:1: run_dir: undefined \"$nope\"" },
	{ "database = ${nope}", "t.conf:1: database: undefined \"$nope\"" },
	{ "database = $state_dir_x",
	  "t.conf:1: database: undefined \"$state_dir_x\"" },
	{ "database = $run_dir\nrun_dir = $nope",
	  "t.conf:2: run_dir: undefined \"$nope\"" },
	{ "database = x$database",
	  "t.conf:1: database: expansion cycle: database -> database" },
	{ "database = ${database}",
	  "t.conf:1: database: expansion cycle: database -> database" },
	{ "database = $wharf_user\nwharf_user = $database",
	  "t.conf:2: wharf_user: expansion cycle: database -> wharf_user -> "
	  "database" },
	{ "state_dir = $run_dir\nrun_dir = $database\ndatabase = $state_dir",
	  "t.conf:3: database: expansion cycle: state_dir -> run_dir -> "
	  "database -> state_dir" },
	{ "database = $wharf_user\nwharf_user = $wharf_user",
	  "t.conf:2: wharf_user: expansion cycle: wharf_user -> wharf_user" },
	{ "database = a$", "t.conf:1: database: lone \"$\" (write \"$$\" for "
	  "a literal \"$\")" },
	{ "database = a$-b", "t.conf:1: database: lone \"$\" (write \"$$\" "
	  "for a literal \"$\")" },
	{ "database = $$$", "t.conf:1: database: lone \"$\" (write \"$$\" "
	  "for a literal \"$\")" },
	{ "database = ${state_dir",
	  "t.conf:1: database: unterminated \"${\"" },
	{ "database = ${", "t.conf:1: database: unterminated \"${\"" },
	{ "database = ${}", "t.conf:1: database: bad name in \"${...}\"" },
	{ "database = ${state dir}",
	  "t.conf:1: database: bad name in \"${...}\"" },
	{ "database = ${$state_dir}",
	  "t.conf:1: database: bad name in \"${...}\"" },
};

static void
test_invalid(void **state)
{
	for (size_t i = 0;
	    i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		const struct invalid_case	*ic = &invalid_cases[i];
		struct conf			*c;
		char				*err = NULL;

		c = parse(ic->text, &err);
		if (c != NULL)
			fail_msg("case %zu \"%s\" parsed", i, ic->text);
		assert_non_null(err);
		if (strcmp(err, ic->want) != 0)
			fail_msg("case %zu \"%s\": error \"%s\", want \"%s\"",
			    i, ic->text, err, ic->want);
		free(err);
	}
}

static void
expect_error(const char *text, size_t len, const char *want)
{
	struct conf	*c;
	char		*err = NULL;

	c = conf_parse(text, len, "t.conf", &err);
	if (c != NULL)
		fail_msg("\"%.60s\" parsed", text);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void
test_limits(void **state)
{
	size_t		 big = 1024 * 1024 + 1;
	char		*text = xmalloc(big + 1), *v;
	struct conf	*c;

	/* A line of exactly 8192 bytes is fine, 8193 is not. */
	memset(text, '#', 8192);
	memcpy(text + 8192, "\n", 2);
	c = parse_ok(text);
	conf_free(&c);
	memcpy(text, "\n#", 2);
	memset(text + 2, 'x', 8192);
	text[8194] = '\0';
	expect_error(text, strlen(text),
	    "t.conf:2: line too long (max 8192 bytes)");

	/* 1 MiB is fine, one byte more is not. */
	memset(text, '\n', big);
	text[big] = '\0';
	c = conf_parse(text, big - 1, "t.conf", &v);
	assert_non_null(c);
	conf_free(&c);
	expect_error(text, big, "t.conf: file too large (max 1048576 bytes)");

	/* A NUL byte. */
	expect_error("database = a\n\nrun_dir = /a\0b", 28,
	    "t.conf:3: NUL character");

	/* A value of 4000 bytes after expansion, then one more. */
	memcpy(text, "database = ", 11);
	memset(text + 11, 'v', 4000);
	text[4011] = '\0';
	c = parse_ok(text);
	assert_int_equal(strlen(conf_str(c, "database")), 4000);
	conf_free(&c);
	memcpy(text + 4011, "v", 2);
	expect_error(text, strlen(text),
	    "t.conf:1: database: value too long (max 4000 bytes)");
	memcpy(text + 4011, "$$", 3);
	expect_error(text, strlen(text),
	    "t.conf:1: database: value too long (max 4000 bytes)");
	memcpy(text + 4011, "$run_dir", 9);
	expect_error(text, strlen(text),
	    "t.conf:1: database: value too long (max 4000 bytes)");

	/* Doubling through nested references stops at the limit. */
	v = "database = $wharf_user$wharf_user$wharf_user$wharf_user\n"
	    "wharf_user = $wharf_auth_user$wharf_auth_user$wharf_auth_user\n"
	    "wharf_auth_user = $wharf_null_user$wharf_null_user"
	    "$wharf_null_user$wharf_null_user$wharf_null_user\n"
	    "wharf_null_user = 0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789\n";
	expect_error(v, strlen(v),
	    "t.conf:1: database: value too long (max 4000 bytes)");

	/* A default that fails after expansion names the key. */
	memcpy(text, "state_dir = /", 13);
	memset(text + 13, 's', 3990);
	text[4003] = '\0';
	expect_error(text, strlen(text), "t.conf:tls_cert_file: value too long "
	    "(max 4000 bytes) (default value)");
	free(text);
}

/* conf_load: files. */
static void
test_load(void **state)
{
	char		*path = tmp_path("load.conf"), *err = NULL, *big;
	struct conf	*c;

	spew(path, "# x\ndatabase = y\n", 17);
	c = conf_load(path, &err);
	assert_non_null(c);
	assert_null(err);
	assert_string_equal(conf_str(c, "database"), "y");
	conf_free(&c);

	spew(path, "# x\ndatabase = $y\n", 18);
	assert_null(conf_load(path, &err));
	assert_non_null(err);
	assert_true(str_has_prefix(err, path));
	assert_string_equal(err + strlen(path),
	    ":2: database: undefined \"$y\"");
	free(err);

	big = xmalloc(1024 * 1024 + 1);
	memset(big, '\n', 1024 * 1024 + 1);
	spew(path, big, 1024 * 1024);
	c = conf_load(path, &err);
	assert_non_null(c);
	conf_free(&c);
	spew(path, big, 1024 * 1024 + 1);
	assert_null(conf_load(path, &err));
	assert_non_null(strstr(err, "file too large"));
	free(err);
	free(big);
	assert_int_equal(unlink(path), 0);

	assert_null(conf_load(path, &err));
	assert_non_null(strstr(err, "No such file"));
	free(err);
	assert_null(conf_load(tmpdir, &err));
	assert_non_null(strstr(err, "not a regular file"));
	free(err);
	free(path);
}

/* Printing and serialisation. */

static void
test_print(void **state)
{
	struct conf	*c;
	char		*out, *want;

	c = parse_ok("database = a$$b # c\nstate_dir = /s\nrun_dir =\n");
	out = print_to_string(c, CONF_PRINT_CHANGED);
	assert_string_equal(out, "state_dir = /s\nrun_dir =\n"
	    "database = a$$b # c\n");
	free(out);

	out = print_to_string(c, CONF_PRINT_ALL);
	assert_non_null(strstr(out, "\ntls_cert_file = /s/tls/cert.pem\n"));
	assert_non_null(strstr(out, "\ndatabase = a$$b # c\n"));
	assert_non_null(strstr(out, "\nrun_dir =\n"));
	assert_non_null(strstr(out, "\nmessage_size_limit = 52428800\n"));
	want = xasprintf("myhostname = %s\n", conf_str(c, "myhostname"));
	assert_true(str_has_prefix(out, want));
	free(want);
	free(out);

	out = print_to_string(c, CONF_PRINT_DEFAULTS);
	assert_true(str_has_prefix(out, "myhostname =\n"
	    "state_dir = /var/lib/wharf\nrun_dir = /run/wharf\n"
	    "database = embedded\n"));
	assert_non_null(strstr(out, "\ntls_cert_file = $state_dir/tls/"
	    "cert.pem\n"));
	assert_non_null(strstr(out, "\nprocess_limit = 0\n"));
	free(out);
	conf_free(&c);

	/* Every mode prints one line per key, or per setting. */
	c = parse_ok("");
	out = print_to_string(c, CONF_PRINT_CHANGED);
	assert_string_equal(out, "");
	free(out);
	for (int what = CONF_PRINT_ALL; what <= CONF_PRINT_DEFAULTS; what +=
	    CONF_PRINT_DEFAULTS - CONF_PRINT_ALL) {
		size_t	 lines = 0;

		out = print_to_string(c, (enum conf_print)what);
		for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		assert_int_equal(lines, conf_nkeys);
		free(out);
	}
	conf_free(&c);
}

/* serialize -> parse gives the same values, and the same text again. */
static void
check_round_trip(const char *text)
{
	struct conf	*c1 = parse_ok(text), *c2;
	struct buf	 b1, b2;
	char		*err = NULL, *esc;

	buf_init(&b1, 1024 * 1024);
	buf_init(&b2, 1024 * 1024);
	assert_int_equal(conf_serialize(c1, &b1), 0);
	c2 = conf_parse(buf_cstr(&b1), b1.len, "snapshot", &err);
	if (c2 == NULL)
		fail_msg("\"%s\": snapshot does not parse: %s", text, err);
	for (size_t k = 0; k < conf_nkeys; k++) {
		const char	*name = conf_keys[k].name;

		assert_string_equal(conf_str(c1, name), conf_str(c2, name));
		assert_true(conf_is_set(c2, name));
		esc = escape_dollars(conf_str(c1, name));
		assert_string_equal(conf_raw(c2, name), esc);
		free(esc);
		if (conf_keys[k].type == CONF_INT ||
		    conf_keys[k].type == CONF_SIZE ||
		    conf_keys[k].type == CONF_TIME)
			assert_int_equal(conf_int(c1, name),
			    conf_int(c2, name));
	}
	assert_int_equal(conf_serialize(c2, &b2), 0);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(BUF_DATA(&b1), BUF_DATA(&b2), b1.len);
	buf_clear(&b1);
	buf_clear(&b2);
	conf_free(&c1);
	conf_free(&c2);
}

static void
test_serialize(void **state)
{
	struct conf	*c;
	struct buf	 b;
	char		*text;

	check_round_trip("");
	check_round_trip("database = a$$b$$$$c $$state_dir $state_dir\n"
	    "wharf_user = $$\nwharf_auth_user = $${x}\n"
	    "wharf_null_user = $$$$$$\n");
	check_round_trip("state_dir = /a b/$$\nrun_dir = $state_dir/r\n"
	    "smtp_listen = a:1,\n  b:2\n\tc:3\nadmin_listen =\n"
	    "myhostname = mx.example\nprocess_limit = 0\n"
	    "database = $postgres_bin_dir x\t y # z\n"
	    "message_size_limit = 1k\nshutdown_timeout = 1500ms\n");
	check_round_trip("database = a\rb\n");

	/* The longest value, all '$': its escaped line still parses. */
	text = xmalloc(8200);
	memcpy(text, "database = ", 11);
	for (size_t i = 0; i < 4000; i++)
		memcpy(text + 11 + 2 * i, "$$", 2);
	text[11 + 8000] = '\0';
	check_round_trip(text);
	free(text);

	/* No room: -1 and the buffer as it was. */
	c = parse_ok("");
	buf_init(&b, 100);
	assert_int_equal(buf_add_str(&b, "keep"), 0);
	assert_int_equal(conf_serialize(c, &b), -1);
	assert_string_equal(buf_cstr(&b), "keep");
	buf_clear(&b);
	conf_free(&c);
}

/* conf_file_set. */

static void
expect_set(const char *before, const char *key, const char *value,
    const char *after)
{
	char	*path = tmp_path("set.conf"), *err = NULL, *got;

	spew(path, before, strlen(before));
	if (conf_file_set(path, key, value, &err) == -1)
		fail_msg("set %s=%s failed: %s", key, value, err);
	assert_null(err);
	got = slurp(path, NULL);
	assert_non_null(got);
	assert_string_equal(got, after);
	free(got);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static const char set_before[] =
    "# Wharf test configuration\n"
    "\n"
    "smtp_listen = 0.0.0.0:25,\n"
    "\t[::]:25\n"
    "   # an indented comment\n"
    "submissions_listen = 0.0.0.0:465   \n"
    "#\trun_dir = /old\n"
    "# run_dirx = /other\n"
    "database = a#b\n";

static void
test_file_set(void **state)
{
	/* Replace a setting and its continuation line. */
	expect_set(set_before, "smtp_listen", "127.0.0.1:25",
	    "# Wharf test configuration\n"
	    "\n"
	    "smtp_listen = 127.0.0.1:25\n"
	    "   # an indented comment\n"
	    "submissions_listen = 0.0.0.0:465   \n"
	    "#\trun_dir = /old\n"
	    "# run_dirx = /other\n"
	    "database = a#b\n");
	/* After a commented-out line. */
	expect_set(set_before, "run_dir", "  /new  ",
	    "# Wharf test configuration\n"
	    "\n"
	    "smtp_listen = 0.0.0.0:25,\n"
	    "\t[::]:25\n"
	    "   # an indented comment\n"
	    "submissions_listen = 0.0.0.0:465   \n"
	    "#\trun_dir = /old\n"
	    "run_dir = /new\n"
	    "# run_dirx = /other\n"
	    "database = a#b\n");
	/* Appended; submissions_listen is not submission_listen. */
	expect_set(set_before, "submission_listen", "",
	    "# Wharf test configuration\n"
	    "\n"
	    "smtp_listen = 0.0.0.0:25,\n"
	    "\t[::]:25\n"
	    "   # an indented comment\n"
	    "submissions_listen = 0.0.0.0:465   \n"
	    "#\trun_dir = /old\n"
	    "# run_dirx = /other\n"
	    "database = a#b\n"
	    "submission_listen =\n");
	/* A raw value with references stays raw. */
	expect_set(set_before, "database", "$state_dir/x $$",
	    "# Wharf test configuration\n"
	    "\n"
	    "smtp_listen = 0.0.0.0:25,\n"
	    "\t[::]:25\n"
	    "   # an indented comment\n"
	    "submissions_listen = 0.0.0.0:465   \n"
	    "#\trun_dir = /old\n"
	    "# run_dirx = /other\n"
	    "database = $state_dir/x $$\n");
	/* No final newline; an empty file. */
	expect_set("database = x", "log_level", "debug",
	    "database = x\nlog_level = debug\n");
	expect_set("#log_level=warn", "log_level", "debug",
	    "#log_level=warn\nlog_level = debug\n");
	expect_set("", "log_level", "debug", "log_level = debug\n");
	/* Duplicates: the first is replaced, the others go. */
	expect_set("database = a\n  b\n# c\ndatabase = d\n  e\n",
	    "database", "f", "database = f\n# c\n");
	/* The setting at the end, continued. */
	expect_set("# c\nsmtp_listen = a,\n b", "smtp_listen", "c",
	    "# c\nsmtp_listen = c\n");
}

static void
expect_set_error(const char *key, const char *value, const char *want)
{
	char	*path = tmp_path("set.conf"), *err = NULL, *got;
	DIR	*d;
	int	 files = 0;

	spew(path, set_before, strlen(set_before));
	assert_int_equal(conf_file_set(path, key, value, &err), -1);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("set %s=%.40s: error \"%s\", want \"%s\"", key, value,
		    err, want);
	free(err);
	got = slurp(path, NULL);
	assert_string_equal(got, set_before);
	free(got);
	/* No temporary file left behind. */
	assert_non_null(d = opendir(tmpdir));
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static void
test_file_set_errors(void **state)
{
	char	*path = tmp_path("none.conf"), *err = NULL, *long_value;

	expect_set_error("message_size_limit", "abc",
	    ":10: message_size_limit: \"abc\": not a number");
	expect_set_error("log_level", "loud", ":10: log_level: \"loud\"");
	expect_set_error("run_dir", "relative", ":8: run_dir: \"relative\": "
	    "not an absolute path");
	expect_set_error("database", "$nope", ":9: database: undefined");
	expect_set_error("database", "$database", "expansion cycle");
	expect_set_error("nope", "1", "unknown key \"nope\"");
	expect_set_error("database", "a\nrun_dir = /x",
	    "control character");
	expect_set_error("database", "a\rb", "control character");
	long_value = xmalloc(8200);
	memset(long_value, 'x', 8193);
	long_value[8193] = '\0';
	expect_set_error("database", long_value, "value too long");
	long_value[8185] = '\0';
	expect_set_error("database", long_value, "line too long");
	free(long_value);

	assert_int_equal(conf_file_set(path, "database", "x", &err), -1);
	assert_non_null(strstr(err, "No such file"));
	free(err);
	free(path);
}

static void
test_file_set_mode_and_link(void **state)
{
	char		*path = tmp_path("mode.conf");
	char		*link = tmp_path("link.conf");
	char		*err = NULL, *got;
	struct stat	 st;

	spew(path, "# m\n", 4);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(symlink("mode.conf", link), 0);
	assert_int_equal(conf_file_set(link, "database", "x", &err), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	got = slurp(path, NULL);
	assert_string_equal(got, "# m\ndatabase = x\n");
	free(got);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);
	free(link);
	free(path);
}

/* The second copy of conf.c, with tables of the test's own. */

static const struct conf_key tb_bool_keys[] = {
	{ "flag", CONF_BOOL, "no", 0, 0, 0, NULL, "A flag" },
	{ "name", CONF_STR, "", 0, 0, CONF_F_HOSTNAME, NULL, "A host" },
	{ "dir", CONF_STR, "", 0, 0, CONF_F_PATH, NULL, "A path" },
	{ "ms", CONF_TIME, "250ms", 0, 1000, 0, NULL, "A time" },
};

static const struct conf_key tb_bad_keys[] = {
	{ "ok", CONF_STR, "fine", 0, 0, 0, NULL, "Fine" },
	{ "bad", CONF_STR, "x$nope", 0, 0, 0, NULL, "Bad" },
};

static void
tb_use(const struct conf_key *keys, size_t n)
{
	tb_keys = keys;
	tb_nkeys = n;
}

struct bool_case {
	const char	*text;
	bool		 want;
};

static const struct bool_case bool_cases[] = {
	{ "", false }, { "flag = yes", true }, { "flag = no", false },
	{ "flag = true", true }, { "flag = false", false },
	{ "flag = on", true }, { "flag = off", false }, { "flag = 1", true },
	{ "flag = 0", false }, { "flag = YES", true }, { "flag = Off", false },
	{ "flag = yes\nflag = no", false },
};

static void
test_bool(void **state)
{
	struct conf	*c;
	char		*err = NULL;
	const char	*bad[] = { "maybe", "2", "", "y", "yess", "o" };
	char		 text[64], want[128];

	tb_use(tb_bool_keys, sizeof(tb_bool_keys) / sizeof(tb_bool_keys[0]));
	for (size_t i = 0; i < sizeof(bool_cases) / sizeof(bool_cases[0]);
	    i++) {
		c = tb_parse(bool_cases[i].text, strlen(bool_cases[i].text),
		    "t.conf", &err);
		assert_non_null(c);
		if (tb_bool(c, "flag") != bool_cases[i].want)
			fail_msg("case \"%s\"", bool_cases[i].text);
		tb_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "\nflag = %s", bad[i]);
		snprintf(want, sizeof(want), "t.conf:2: flag: \"%s\": not a "
		    "boolean (use yes or no)", bad[i]);
		assert_null(tb_parse(text, strlen(text), "t.conf", &err));
		assert_string_equal(err, want);
		free(err);
	}
	/* The docs of a table with a boolean and a bounded time. */
	c = tb_defaults();
	assert_true(strlen(tb_str(c, "name")) > 0);
	assert_int_equal(tb_int(c, "ms"), 250);
	tb_free(&c);
	log_set_flags(0);
	log_set_hook(on_log, NULL);
	log_set_fatal_hook(on_fatal);
	c = tb_defaults();
	EXPECT_FATAL(tb_list(c, "flag", NULL), "wrong type");
	EXPECT_FATAL(tb_bool(c, "ms"), "wrong type");
	tb_free(&c);

	/* A bad default: an error naming the key; conf_defaults is fatal. */
	tb_use(tb_bad_keys, 2);
	assert_null(tb_parse("ok = x", 6, "t.conf", &err));
	assert_string_equal(err,
	    "t.conf:bad: undefined \"$nope\" (default value)");
	free(err);
	c = tb_parse("bad = y", 7, "t.conf", &err);
	assert_non_null(c);
	tb_free(&c);
	EXPECT_FATAL(tb_defaults(), "bad key table");
	log_set_fatal_hook(NULL);
	log_set_hook(NULL, NULL);
	log_set_flags(LOG_TO_STDERR);
}

static void
cap_tb_mdoc(FILE *fp, const void *arg)
{
	tb_write_mdoc_table(fp);
}

static void
test_bool_docs(void **state)
{
	char	*out;

	tb_use(tb_bool_keys, sizeof(tb_bool_keys) / sizeof(tb_bool_keys[0]));
	out = capture(cap_tb_mdoc, NULL);
	assert_string_equal(out,
	    ".Bl -tag -width Ds\n"
	    ".It Cm flag Pq Ar boolean , No default Ql \"no\"\n"
	    "A flag.\n"
	    ".It Cm name Pq Ar string , No default this host's FQDN\n"
	    "A host.\n"
	    ".It Cm dir Pq Ar path , No default empty\n"
	    "A path.\n"
	    ".It Cm ms Pq Ar time , No default Ql \"250ms\"\n"
	    "A time.\n"
	    "From 0 to 1s.\n"
	    ".El\n");
	free(out);
}

/* The generated files agree with the table. */

static char *
man_region(char *man, char **end_r)
{
	char	*begin = strstr(man, "\n" MAN_BEGIN), *end;

	if (begin == NULL)
		fail_msg("%s: no line \"%.*s\"", MAN_PATH,
		    (int)strlen(MAN_BEGIN) - 1, MAN_BEGIN);
	begin += 1 + strlen(MAN_BEGIN);
	if ((end = strstr(begin, "\n" MAN_END)) == NULL &&
	    !str_has_prefix(begin, MAN_END))
		fail_msg("%s: no line \"%.*s\"", MAN_PATH,
		    (int)strlen(MAN_END) - 1, MAN_END);
	*end_r = end == NULL ? begin : end + 1;
	return begin;
}

static void
regen_docs(const char *sample, const char *table)
{
	char	*man = slurp(MAN_PATH, NULL), *begin, *end, *out;

	if (man == NULL)
		fail_msg("%s: %s (run from the top of the source tree)",
		    MAN_PATH, strerror(errno));
	begin = man_region(man, &end);
	out = xasprintf("%.*s%s%s", (int)(begin - man), man, table, end);
	spew(MAN_PATH, out, strlen(out));
	spew(SAMPLE_PATH, sample, strlen(sample));
	print_message("test_conf: wrote %s and %s\n", SAMPLE_PATH, MAN_PATH);
	free(out);
	free(man);
}

static void
test_docs(void **state)
{
	char		*sample = capture(cap_sample, NULL);
	char		*table = capture(cap_mdoc, NULL);
	char		*file, *begin, *end;
	const char	*regen = getenv("WHARF_REGEN_DOCS");

	if (regen != NULL && strcmp(regen, "1") == 0)
		regen_docs(sample, table);
	if ((file = slurp(SAMPLE_PATH, NULL)) == NULL)
		fail_msg("%s: %s (run from the top of the source tree)",
		    SAMPLE_PATH, strerror(errno));
	if (strcmp(file, sample) != 0)
		fail_msg("%s differs from conf_write_sample(): regenerate it "
		    "with WHARF_REGEN_DOCS=1 %s", SAMPLE_PATH, "test_conf");
	free(file);
	if ((file = slurp(MAN_PATH, NULL)) == NULL)
		fail_msg("%s: %s (run from the top of the source tree)",
		    MAN_PATH, strerror(errno));
	begin = man_region(file, &end);
	if ((size_t)(end - begin) != strlen(table) ||
	    memcmp(begin, table, strlen(table)) != 0)
		fail_msg("%s: key table differs from conf_write_mdoc_table(): "
		    "regenerate it with WHARF_REGEN_DOCS=1 test_conf",
		    MAN_PATH);
	free(file);

	/* The sample parses, and sets nothing. */
	{
		struct conf	*c = parse_ok(sample);

		for (size_t k = 0; k < conf_nkeys; k++)
			assert_false(conf_is_set(c, conf_keys[k].name));
		conf_free(&c);
	}
	/* Each commented default, uncommented, is the default. */
	for (size_t k = 0; k < conf_nkeys; k++) {
		char	*line = xasprintf("\n#%s =", conf_keys[k].name);

		assert_non_null(strstr(sample, line));
		free(line);
	}
	free(sample);
	free(table);
}

static int
setup(void **state)
{
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_ncpu),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_fatal_lookups),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_serialize),
		cmocka_unit_test(test_file_set),
		cmocka_unit_test(test_file_set_errors),
		cmocka_unit_test(test_file_set_mode_and_link),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_bool_docs),
		cmocka_unit_test(test_docs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
