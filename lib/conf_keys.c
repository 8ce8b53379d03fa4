/*
 * conf_keys — the one table of main.conf keys (conf.h).
 *
 * Everything about a key lives here: conf.c validates against it, and it
 * generates `wharf config -d`, etc/main.conf and the key table of
 * main.conf(5) (tests/unit/test_conf.c checks the committed files agree;
 * run it with WHARF_REGEN_DOCS=1 after changing this table).
 *
 * Bounds of SIZE keys are bytes and of TIME keys milliseconds.  Help is one
 * line without a final period.
 */
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define KIB	1024LL
#define MIB	(1024 * KIB)
#define GIB	(1024 * MIB)
#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

const struct conf_key conf_keys[] = {
	{ "myhostname", CONF_STR, "", 0, 0, CONF_F_HOSTNAME, NULL,
	  "Host name in SMTP greetings and Received: headers" },
	{ "state_dir", CONF_STR, "/var/lib/wharf", 0, 0, CONF_F_PATH, NULL,
	  "Directory of the database cluster, the blobs and the queue" },
	{ "run_dir", CONF_STR, "/run/wharf", 0, 0, CONF_F_PATH, NULL,
	  "Directory of the sockets and the pid file" },
	{ "database", CONF_STR, "embedded", 0, 0, 0, NULL,
	  "\"embedded\" (a private PostgreSQL cluster under state_dir) or a "
	  "libpq conninfo string or URI" },
	{ "smtp_listen", CONF_LIST, "0.0.0.0:25, [::]:25", 0, 0, 0, NULL,
	  "Addresses of the SMTP relay service; empty turns it off" },
	{ "submission_listen", CONF_LIST, "0.0.0.0:587, [::]:587", 0, 0, 0,
	  NULL,
	  "Addresses of the submission service (STARTTLS); empty turns it "
	  "off" },
	{ "submissions_listen", CONF_LIST, "0.0.0.0:465, [::]:465", 0, 0, 0,
	  NULL,
	  "Addresses of the submission service over implicit TLS; empty turns "
	  "it off" },
	{ "imap_listen", CONF_LIST, "0.0.0.0:143, [::]:143", 0, 0, 0, NULL,
	  "Addresses of the IMAP service (STARTTLS); empty turns it off" },
	{ "imaps_listen", CONF_LIST, "0.0.0.0:993, [::]:993", 0, 0, 0, NULL,
	  "Addresses of the IMAP service over implicit TLS; empty turns it "
	  "off" },
	{ "admin_listen", CONF_LIST, "127.0.0.1:8080", 0, 0, 0, NULL,
	  "Addresses of the HTTP admin interface; empty turns it off" },
	{ "tls_cert_file", CONF_STR, "$state_dir/tls/cert.pem", 0, 0,
	  CONF_F_PATH, NULL,
	  "PEM certificate chain for TLS; a self-signed one is made at first "
	  "start if absent" },
	{ "tls_key_file", CONF_STR, "$state_dir/tls/key.pem", 0, 0,
	  CONF_F_PATH, NULL,
	  "PEM private key of tls_cert_file" },
	{ "message_size_limit", CONF_SIZE, "52428800", 1 * KIB, 4 * GIB - 1, 0,
	  NULL,
	  "Largest message accepted, in bytes" },
	{ "log_level", CONF_ENUM, "info", 0, 0, 0, "debug|info|warn|error",
	  "Least severe level that is logged" },
	{ "log_format", CONF_ENUM, "text", 0, 0, 0, "text|json",
	  "Format of log lines on standard error: plain text or JSON objects" },
	{ "syslog_facility", CONF_ENUM, "mail", 0, 0, 0,
	  "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|"
	  "local7",
	  "Syslog facility of log lines" },
	{ "wharf_user", CONF_STR, "wharf", 0, 0, 0, NULL,
	  "Unprivileged user of qmgr, deliver, imapd, admind and the embedded "
	  "PostgreSQL" },
	{ "wharf_auth_user", CONF_STR, "wharf-auth", 0, 0, 0, NULL,
	  "User of authd, the only process that reads password hashes" },
	{ "wharf_null_user", CONF_STR, "wharf-null", 0, 0, 0, NULL,
	  "User of smtpd and mta, which run chrooted without database access" },
	{ "process_limit", CONF_INT, "0", 0, 1024, CONF_F_NCPU, NULL,
	  "Processes per multi-process service (0: the number of CPUs)" },
	{ "service_ready_timeout", CONF_TIME, "10s", 1 * SEC, 1 * HOUR, 0, NULL,
	  "How long a starting child may take to report that it is ready" },
	{ "service_backoff_min", CONF_TIME, "2s", 100, 1 * HOUR, 0, NULL,
	  "First restart delay of a service whose children fail at startup" },
	{ "service_backoff_max", CONF_TIME, "60s", 1 * SEC, 1 * DAY, 0, NULL,
	  "Longest restart delay of a service whose children keep failing at "
	  "startup (the delay doubles up to it)" },
	{ "shutdown_timeout", CONF_TIME, "30s", 1 * SEC, 1 * HOUR, 0, NULL,
	  "How long children may finish in-flight work on stop or reload "
	  "before being killed" },
	{ "postgres_bin_dir", CONF_STR, "", 0, 0, CONF_F_PATH, NULL,
	  "Directory with initdb and postgres for database = embedded (empty: "
	  "the newest /usr/lib/postgresql/*/bin)" },
	{ "database_shared_buffers", CONF_SIZE, "0", 0, 64 * GIB, 0, NULL,
	  "Buffer cache of the embedded PostgreSQL (0: an eighth of this "
	  "machine's memory, from 128m to 2g; at least 128k); read when the "
	  "master starts the cluster" },
	{ "db_connect_timeout", CONF_TIME, "10s", 1 * SEC, 10 * MIN, 0, NULL,
	  "How long connecting to PostgreSQL may take" },
	{ "argon2_time_cost", CONF_INT, "3", 1, 100, 0, NULL,
	  "Argon2id passes over memory per password hash" },
	{ "argon2_memory_cost", CONF_SIZE, "64m", 8 * KIB, 4 * GIB, 0, NULL,
	  "Argon2id memory per password hash, in bytes (argon2 takes KiB)" },
	{ "argon2_parallelism", CONF_INT, "1", 1, 64, 0, NULL,
	  "Argon2id lanes (threads) per password hash" },
	{ "recipient_delimiter", CONF_STR, "+", 0, 0, 0, NULL,
	  "Characters that separate a local part from its extension "
	  "(user+tag@domain reaches user@domain); empty turns it off" },
	{ "mynetworks", CONF_LIST, "127.0.0.0/8, [::1]/128", 0, 0, 0, NULL,
	  "Client networks (address/prefix) that may relay mail to other "
	  "domains without authentication" },
	{ "authd_cache_ttl", CONF_TIME, "10s", 0, 1 * HOUR, 0, NULL,
	  "How long authd reuses a recipient lookup answer; 0 turns the cache "
	  "off" },
	{ "authd_cache_size", CONF_INT, "10000", 0, 10000000, 0, NULL,
	  "Most recipient lookup answers authd keeps in its cache" },
	{ "authd_workers", CONF_INT, "2", 1, 64, 0, NULL,
	  "Processes authd uses to verify password hashes (each verification "
	  "takes one for argon2_memory_cost and some 100 ms)" },
	{ "auth_rehash", CONF_BOOL, "yes", 0, 0, 0, NULL,
	  "On a successful login, store the password again as argon2id with "
	  "the argon2_* costs when it was stored with another scheme or cost" },
	{ "auth_failure_delay", CONF_TIME, "2s", 0, 10 * SEC, 0, NULL,
	  "Delay of the reply to a failed login; it doubles with each further "
	  "failure of that account or client address" },
	{ "auth_failure_delay_max", CONF_TIME, "15s", 0, 20 * SEC, 0, NULL,
	  "Longest delay of the reply to a failed login" },
	{ "auth_lockout_failures", CONF_INT, "10", 0, 100000, 0, NULL,
	  "Failed logins of one account, each within auth_lockout_time of "
	  "the one before, that lock it for auth_lockout_time; 0 never locks" },
	{ "auth_ip_lockout_failures", CONF_INT, "50", 0, 1000000, 0, NULL,
	  "Failed logins from one client address, each within "
	  "auth_lockout_time of the one before, that refuse every login from "
	  "it for auth_lockout_time; 0 never refuses" },
	{ "auth_lockout_time", CONF_TIME, "15m", 1 * SEC, 1 * DAY, 0, NULL,
	  "How long a lockout lasts, and how long a failed login is "
	  "remembered" },
	{ "submission_sender_check", CONF_ENUM, "owned", 0, 0, 0,
	  "owned|any",
	  "Submission: the envelope sender and every From: address must be "
	  "the user's own (address, alias reaching them, domain they "
	  "administer), or may be any address" },
	{ "submission_received_auth", CONF_BOOL, "no", 0, 0, 0, NULL,
	  "Submission: name the authenticated user in the Received: header" },
	{ "submission_message_rate_limit", CONF_INT, "1000", 0, 10000000, 0,
	  NULL,
	  "Messages one user may submit per hour (more get 451); 0: no limit" },
	{ "submission_recipient_rate_limit", CONF_INT, "3000", 0, 10000000, 0,
	  NULL,
	  "Recipients one user may submit to per hour (more get 451); 0: no "
	  "limit" },
	{ "queue_retry_min", CONF_TIME, "1m", 1 * SEC, 1 * DAY, 0, NULL,
	  "Delay before the first retry of a temporarily failed delivery; "
	  "each further retry waits twice as long" },
	{ "queue_retry_max", CONF_TIME, "1h", 1 * SEC, 7 * DAY, 0, NULL,
	  "Longest delay between two retries of a delivery" },
	{ "maximal_queue_lifetime", CONF_TIME, "5d", 1 * SEC, 100 * DAY, 0,
	  NULL,
	  "How long a temporarily failing recipient is retried before it is "
	  "bounced" },
	{ "delay_warning_time", CONF_TIME, "0", 0, 100 * DAY, 0, NULL,
	  "Age of a still undelivered message at which its sender gets one "
	  "delay notice (RFC 3464); 0 turns notices off (4h is usual)" },
	{ "mta_concurrency_limit", CONF_INT, "100", 1, 100000, 0, NULL,
	  "Most outbound SMTP deliveries in progress at once" },
	{ "mta_destination_concurrency_limit", CONF_INT, "20", 1, 10000, 0,
	  NULL,
	  "Most outbound deliveries in progress at once to one destination "
	  "domain" },
	{ "mta_destination_recipient_limit", CONF_INT, "50", 1, 1000, 0, NULL,
	  "Most recipients in one outbound SMTP transaction" },
	{ "relayhost", CONF_STR, "", 0, 0, 0, NULL,
	  "Next hop for all outbound mail instead of the MX records: "
	  "[host]:port (no MX lookup) or host:port; empty: deliver directly" },
	{ "relayhost_auth_file", CONF_STR, "", 0, 0, CONF_F_PATH, NULL,
	  "File with one line \"user password\" for AUTH at the relayhost "
	  "(only over TLS); readable by root only" },
	{ "transport_file", CONF_STR, "", 0, 0, CONF_F_PATH, NULL,
	  "Table of lines \"domain [host]:port\" sending a domain's mail to a "
	  "fixed next hop without MX lookup; read again on reload" },
	{ "smtp_tls_security_level", CONF_ENUM, "may", 0, 0, 0,
	  "none|may|encrypt|verify",
	  "Outbound STARTTLS: none, may (opportunistic), encrypt (required), "
	  "verify (required, certificate and name verified)" },
	{ "smtp_tls_policy_file", CONF_STR, "", 0, 0, CONF_F_PATH, NULL,
	  "Table of lines \"domain none|may|encrypt|verify\" overriding "
	  "smtp_tls_security_level per destination domain" },
	{ "smtp_tls_ca_file", CONF_STR, "", 0, 0, CONF_F_PATH, NULL,
	  "PEM trust anchors for verify; empty: the system's" },
	{ "smtp_connect_timeout", CONF_TIME, "30s", 1 * SEC, 10 * MIN, 0, NULL,
	  "Time allowed to connect to a remote SMTP server" },
	{ "smtp_helo_timeout", CONF_TIME, "300s", 1 * SEC, 1 * HOUR, 0, NULL,
	  "Time allowed for the greeting of a remote SMTP server and each "
	  "reply before DATA" },
	{ "smtp_data_timeout", CONF_TIME, "600s", 1 * SEC, 1 * HOUR, 0, NULL,
	  "Time allowed for each block of the message and for the reply "
	  "after it" },
	{ "smtp_8bit_conversion", CONF_BOOL, "yes", 0, 0, 0, NULL,
	  "Convert an 8-bit message to 7-bit MIME (quoted-printable or "
	  "base64) for a server without 8BITMIME; no: bounce it (5.6.3)" },
	{ "dns_servers", CONF_LIST, "", 0, 0, 0, NULL,
	  "Recursive DNS servers for outbound mail (address or address:port); "
	  "empty: those of /etc/resolv.conf" },
	{ "dns_dnssec", CONF_BOOL, "yes", 0, 0, 0, NULL,
	  "Validate DNSSEC in outbound DNS lookups (the servers must pass "
	  "DNSSEC records through)" },
	{ "dns_timeout", CONF_TIME, "10s", 100, 5 * MIN, 0, NULL,
	  "Time allowed for one DNS query" },
	{ "smtpd_banner", CONF_STR, "$myhostname ESMTP Wharf", 0, 0, 0, NULL,
	  "Text of the SMTP greeting after the 220 code" },
	{ "smtpd_connection_limit", CONF_INT, "1000", 1, 1000000, 0, NULL,
	  "Most SMTP connections one smtpd process serves at once (more get "
	  "421)" },
	{ "smtpd_client_connection_limit", CONF_INT, "20", 1, 1000000, 0, NULL,
	  "Most SMTP connections from one client address at once, over every "
	  "smtpd process (more get 421)" },
	{ "smtpd_recipient_limit", CONF_INT, "1000", 1, 10000, 0, NULL,
	  "Most recipients of one message (more get 452)" },
	{ "smtpd_error_limit", CONF_INT, "20", 1, 1000, 0, NULL,
	  "Errors a client may cause before it is disconnected with 421" },
	{ "smtpd_timeout", CONF_TIME, "5m", 1 * SEC, 1 * HOUR, 0, NULL,
	  "How long a client may take to send one complete command "
	  "(RFC 5321 4.5.3.2.7)" },
	{ "smtpd_data_timeout", CONF_TIME, "10m", 1 * SEC, 1 * DAY, 0, NULL,
	  "How long a client may take for the whole message after DATA or "
	  "between BDAT chunks" },
	{ "smtpd_bare_newline", CONF_ENUM, "reject", 0, 0, 0,
	  "reject|normalize",
	  "A bare LF or CR in DATA: reject the message, or store it with "
	  "CRLF line ends (the end of data is CRLF.CRLF either way)" },
	{ "imap_login_timeout", CONF_TIME, "1m", 1 * SEC, 1 * HOUR, 0, NULL,
	  "How long an IMAP client may stay connected without logging in" },
	{ "imap_timeout", CONF_TIME, "30m", 30 * MIN, 1 * DAY, 0, NULL,
	  "How long a logged-in IMAP client may stay silent, IDLE included "
	  "(RFC 9051 5.4: at least 30 minutes)" },
	{ "imap_line_limit", CONF_SIZE, "64k", 1 * KIB, 16 * MIB, 0, NULL,
	  "Longest IMAP command line, literals not counted (longer: BYE)" },
	{ "imap_literal_limit", CONF_SIZE, "64k", 1 * KIB, 64 * MIB, 0, NULL,
	  "Largest literal in an IMAP command other than APPEND (APPEND: "
	  "message_size_limit); larger ones are refused before they are "
	  "read" },
	{ "imap_connection_limit", CONF_INT, "1000", 1, 1000000, 0, NULL,
	  "Most IMAP connections one imapd process serves at once" },
	{ "imap_client_connection_limit", CONF_INT, "50", 1, 1000000, 0, NULL,
	  "Most IMAP connections from one client address, over every imapd "
	  "process" },
	{ "imap_user_connection_limit", CONF_INT, "20", 1, 1000000, 0, NULL,
	  "Most IMAP sessions one user may have logged in at once, over "
	  "every imapd process" },
	{ "imap_plaintext_loopback", CONF_BOOL, "no", 0, 0, 0, NULL,
	  "Allow IMAP logins without TLS from loopback addresses (127.0.0.0/8, "
	  "::1)" },
	{ "imap_fts", CONF_BOOL, "yes", 0, 0, 0, NULL,
	  "SEARCH BODY and TEXT read only the messages whose full-text vector "
	  "has the words (matched by prefix: a string inside a word is not "
	  "found); no: read every message (exact substrings)" },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
