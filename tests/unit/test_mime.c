/*
 * Unit tests for lib/mime*.c: part tree, ENVELOPE, BODYSTRUCTURE,
 * sections, decoders, limits.
 *
 * Messages are written with "\n" and run with CRLF line ends (as stored)
 * unless marked RAW.  The expected strings were written by hand from the
 * RFC 3501 §9 grammar; the "dovecot" cases are Dovecot's own test vectors
 * (src/lib-imap/test-imap-bodystructure.c and test-imap-envelope.c; Dovecot
 * counts sizes with CRLF line ends, so the CRLF form must match exactly).
 * Every message also goes through the fuzz target's checks (included
 * below): tree invariants and an IMAP grammar recogniser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "mime.h"

#include "../fuzz/fuzz_mime.c"

#define RAW	0x01		/* keep the bare LFs */

struct mcase {
	const char	*name;
	const char	*msg;
	int		 flags;
	const char	*env;		/* NULL: not checked */
	const char	*bs;		/* BODYSTRUCTURE */
	const char	*body;		/* BODY, NULL: not checked */
	const char	*sections;	/* "sec t/s hoff+hlen boff+blen n;" */
};

/* a text/plain body up to its octets */
#define TP	"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL " \
	"\"7bit\" "
#define NIL4	" NIL NIL NIL NIL"
#define ALL_NIL	"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"

static const struct mcase cases[] = {
	/* Dovecot test-imap-bodystructure.c parse_tests[] */
	{ "dovecot-1",
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "body\n", 0, NULL,
	    "(" TP "6 1 NIL NIL NIL NIL)",
	    "(" TP "6 1)", NULL },
	{ "dovecot-2",
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "body\n"
	    "\n", 0, NULL,
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2"
	    " NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2)",
	    NULL },
	{ "dovecot-3",
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo\n"
	    " bar\"\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/x-myown; charset=us-ascii\n"
	    "\n"
	    "hello\n"
	    "\n"
	    "--foo bar--\n"
	    "\n", 0, NULL,
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL"
	    " \"7bit\" 7 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
	    " \"foo bar\") NIL NIL NIL)",
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL"
	    " \"7bit\" 7 1) \"mixed\")", NULL },
	{ "dovecot-4",
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-ID: <A.frop.example.com>\n"
	    "Content-Description: Container message\n"
	    "\n"
	    "See attached...\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: message/rfc822\n"
	    "Content-ID: <B.frop.example.com>\n"
	    "Content-Description: Forwarded\n"
	    "\n"
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "\n"
	    "body\n"
	    "\n"
	    "--foo bar--\n", 0, NULL,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\")"
	    " \"<A.frop.example.com>\" \"Container message\" \"7bit\" 17 1"
	    " NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL"
	    " \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133"
	    " (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL"
	    " ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\""
	    " \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL"
	    " NIL NIL) (" TP "6 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) \"mixed\""
	    " (\"boundary\" \"foo bar\") NIL NIL NIL)",
	    NULL, NULL },
	{ "dovecot-5",
	    "From: user@domain.org\n"
	    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
	    "Mime-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"foo\n"
	    " bar\"\n"
	    "\n"
	    "Root MIME prologue\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: text/x-myown; charset=us-ascii; "
	    "foo=\"quoted\\\"string\"\n"
	    "Content-ID: <foo@example.com>\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	    "Content-Disposition: inline; foo=bar\n"
	    "Content-Description: hellodescription\n"
	    "Content-Language: en, fi, se\n"
	    "Content-Location: http://example.com/test.txt\n"
	    "\n"
	    "hello\n"
	    "\n"
	    "--foo bar\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "From: sub@domain.org\n"
	    "To: sub-to1@domain.org, sub-to2@domain.org\n"
	    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
	    "Subject: submsg\n"
	    "Content-Type: multipart/alternative; boundary=\"sub1\"\n"
	    "\n"
	    "Sub MIME prologue\n"
	    "--sub1\n"
	    "Content-Type: text/html\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "<p>Hello world</p>\n"
	    "\n"
	    "--sub1\n"
	    "Content-Type: text/plain\n"
	    "Content-Transfer-Encoding: ?invalid\n"
	    "\n"
	    "Hello another world\n"
	    "\n"
	    "--sub1--\n"
	    "Sub MIME epilogue\n"
	    "\n"
	    "--foo bar--\n"
	    "Root MIME epilogue\n", 0, NULL,
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
	    " \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
	    " \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\""
	    " \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412"
	    " (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\""
	    " \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL"
	    " \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")"
	    "(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL)"
	    " ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL"
	    " \"8bit\" 20 1 NIL NIL NIL NIL)(" TP "21 1 NIL NIL NIL NIL)"
	    " \"alternative\""
	    " (\"boundary\" \"sub1\") NIL NIL NIL) 21 NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)",
	    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
	    " \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
	    " \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412"
	    " (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\""
	    " \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL"
	    " \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")"
	    "(NIL NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL)"
	    " ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL"
	    " \"8bit\" 20 1)(" TP "21 1) \"alternative\") 21) \"mixed\")",
	    " multipart/mixed 0+136 136+826 40;"
	    "1 text/x-myown 169+294 463+7 1;"
	    "2 message/rfc822 483+32 515+412 21;"
	    "2 multipart/alternative 515+178 693+234 15;"
	    "2.1 text/html 720+60 780+20 1;"
	    "2.2 text/plain 810+65 875+21 1;" },
	{ "dovecot-8",
	    "Content-Type: multipart/mixed; boundary=\"foo\"\n"
	    "\n", 0, ALL_NIL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL"
	    " NIL NIL)",
	    "((" TP "0 0) \"mixed\")", " multipart/mixed 0+49 49+0 0;" },

	/* Written from RFC 3501 §9 and RFC 2045/2046. */
	{ "simple",
	    "From: Alice <alice@example.org>\n"
	    "To: bob@example.com\n"
	    "Subject: Hi\n"
	    "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
	    "Message-ID: <1@example.org>\n"
	    "\n"
	    "Hello\n", 0,
	    "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hi\""
	    " ((\"Alice\" NIL \"alice\" \"example.org\"))"
	    " ((\"Alice\" NIL \"alice\" \"example.org\"))"
	    " ((\"Alice\" NIL \"alice\" \"example.org\"))"
	    " ((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL"
	    " \"<1@example.org>\")",
	    "(" TP "7 1 NIL NIL NIL NIL)", "(" TP "7 1)",
	    "1 text/plain 0+136 136+7 1;" },
	{ "mixed-attachment",
	    "From: a@example.org\n"
	    "To: b@example.org\n"
	    "Subject: files\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	    "\n"
	    "preamble\n"
	    "--XX\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "caf=C3=A9\n"
	    "--XX\n"
	    "Content-Type: application/pdf; name=\"r.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"r.pdf\"; size=6\n"
	    "\n"
	    "JVBERg==\n"
	    "--XX--\n"
	    "epilogue\n", 0,
	    "(NIL \"files\" ((NIL NIL \"a\" \"example.org\"))"
	    " ((NIL NIL \"a\" \"example.org\"))"
	    " ((NIL NIL \"a\" \"example.org\"))"
	    " ((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
	    " \"quoted-printable\" 9 1 NIL NIL NIL NIL)(\"application\" \"pdf\""
	    " (\"name\" \"r.pdf\") NIL NIL \"base64\" 8 NIL (\"attachment\""
	    " (\"filename\" \"r.pdf\" \"size\" \"6\")) NIL NIL) \"mixed\""
	    " (\"boundary\" \"XX\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
	    " \"quoted-printable\" 9 1)(\"application\" \"pdf\" (\"name\""
	    " \"r.pdf\") NIL NIL \"base64\" 8) \"mixed\")",
	    " multipart/mixed 0+123 123+290 14;"
	    "1 text/plain 139+88 227+9 1;"
	    "2 application/pdf 244+141 385+8 1;" },
	{ "mixed-attachment-lf",
	    "From: a@example.org\n"
	    "To: b@example.org\n"
	    "Subject: files\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	    "\n"
	    "preamble\n"
	    "--XX\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "caf=C3=A9\n"
	    "--XX\n"
	    "Content-Type: application/pdf; name=\"r.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"r.pdf\"; size=6\n"
	    "\n"
	    "JVBERg==\n"
	    "--XX--\n"
	    "epilogue\n", RAW, NULL,
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
	    " \"quoted-printable\" 9 1 NIL NIL NIL NIL)(\"application\" \"pdf\""
	    " (\"name\" \"r.pdf\") NIL NIL \"base64\" 8 NIL (\"attachment\""
	    " (\"filename\" \"r.pdf\" \"size\" \"6\")) NIL NIL) \"mixed\""
	    " (\"boundary\" \"XX\") NIL NIL NIL)", NULL,
	    " multipart/mixed 0+117 117+276 14;"
	    "1 text/plain 131+85 216+9 1;"
	    "2 application/pdf 231+137 368+8 1;" },
	{ "alternative-in-mixed",
	    "Content-Type: multipart/mixed; boundary=outer\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: multipart/alternative; boundary=inner\n"
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "plain\n"
	    "--inner\n"
	    "Content-Type: text/html; charset=\"UTF-8\"\n"
	    "\n"
	    "<b>x</b>\n"
	    "--inner--\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: image/png\n"
	    "Content-ID: <img1@x>\n"
	    "Content-Description: a dot\n"
	    "Content-Transfer-Encoding: BASE64\n"
	    "Content-Location: dot.png\n"
	    "\n"
	    "iVBO\n"
	    "--outer--\n", 0, ALL_NIL,
	    "(((" TP "5 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\""
	    " \"UTF-8\") NIL NIL \"7bit\" 8 1 NIL NIL NIL NIL) \"alternative\""
	    " (\"boundary\" \"inner\") NIL NIL NIL)(\"image\" \"png\" NIL"
	    " \"<img1@x>\" \"a dot\" \"base64\" 4 NIL NIL NIL \"dot.png\")"
	    " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
	    "(((" TP "5 1)(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL"
	    " \"7bit\" 8 1) \"alternative\")(\"image\" \"png\" NIL \"<img1@x>\""
	    " \"a dot\" \"base64\" 4) \"mixed\")",
	    " multipart/mixed 0+49 49+349 22;"
	    "1 multipart/alternative 58+55 113+118 9;"
	    "1.1 text/plain 122+28 150+5 1;"
	    "1.2 text/html 166+44 210+8 1;"
	    "2 image/png 242+139 381+4 1;" },
	{ "rfc822-attached",
	    "From: x@y.z\n"
	    "Subject: Fwd: hello\n"
	    "Content-Type: multipart/mixed; boundary=b1\n"
	    "\n"
	    "--b1\n"
	    "\n"
	    "see below\n"
	    "--b1\n"
	    "Content-Type: message/rfc822\n"
	    "Content-Disposition: inline\n"
	    "\n"
	    "From: \"Q, Person\" <q@p.example>\n"
	    "To: undisclosed-recipients:;\n"
	    "Subject: hello\n"
	    "Message-ID: <m@p.example>\n"
	    "\n"
	    "inner body\n"
	    "--b1--\n", 0,
	    "(NIL \"Fwd: hello\" ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\""
	    " \"y.z\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL NIL NIL)",
	    "((" TP "9 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL"
	    " \"7bit\" 118 (NIL \"hello\" ((\"Q, Person\" NIL \"q\""
	    " \"p.example\")) ((\"Q, Person\" NIL \"q\" \"p.example\"))"
	    " ((\"Q, Person\" NIL \"q\" \"p.example\")) ((NIL NIL"
	    " \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL"
	    " \"<m@p.example>\") (" TP "10 1 NIL NIL NIL NIL) 6 NIL (\"inline\""
	    " NIL) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)",
	    NULL,
	    " multipart/mixed 0+80 80+214 14;"
	    "1 text/plain 86+2 88+9 1;"
	    "2 message/rfc822 105+61 166+118 6;"
	    "2.1 text/plain 166+108 274+10 1;" },
	{ "digest",
	    "Content-Type: multipart/digest; boundary=d\n"
	    "\n"
	    "--d\n"
	    "\n"
	    "From: a@b.c\n"
	    "Subject: one\n"
	    "\n"
	    "1\n"
	    "--d\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "not a message\n"
	    "--d\n"
	    "Content-type: Message/RFC822\n"
	    "\n"
	    "Subject: two\n"
	    "\n"
	    "2\n"
	    "--d--\n", 0, ALL_NIL,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 30 (NIL \"one\""
	    " ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\"))"
	    " ((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL)"
	    " (" TP "1 1 NIL NIL NIL NIL) 4 NIL"
	    " NIL NIL NIL)(" TP "13 1 NIL NIL NIL NIL)(\"message\" \"rfc822\""
	    " NIL NIL NIL \"7bit\" 17 (NIL \"two\" NIL NIL NIL NIL NIL NIL NIL"
	    " NIL) (" TP "1 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \"digest\""
	    " (\"boundary\" \"d\") NIL NIL NIL)",
	    NULL,
	    " multipart/digest 0+46 46+150 17;"
	    "1 message/rfc822 51+2 53+30 4;"
	    "1.1 text/plain 53+29 82+1 1;"
	    "2 text/plain 90+28 118+13 1;"
	    "3 message/rfc822 138+32 170+17 3;"
	    "3.1 text/plain 170+16 186+1 1;" },
	{ "nested-closed-by-outer",
	    "Content-Type: multipart/mixed; boundary=out\n"
	    "\n"
	    "--out\n"
	    "Content-Type: multipart/alternative; boundary=in\n"
	    "\n"
	    "--in\n"
	    "\n"
	    "a\n"
	    "--out\n"
	    "\n"
	    "b\n"
	    "--out--\n", 0, NULL,
	    "(((" TP "1 1 NIL NIL NIL NIL) \"alternative\""
	    " (\"boundary\" \"in\") NIL NIL NIL)(" TP "1 1 NIL NIL NIL NIL)"
	    " \"mixed\" (\"boundary\" \"out\") NIL NIL NIL)", NULL,
	    " multipart/mixed 0+47 47+91 10;"
	    "1 multipart/alternative 54+52 106+9 3;"
	    "1.1 text/plain 112+2 114+1 1;"
	    "2 text/plain 124+2 126+1 1;" },
	{ "rfc2231",
	    "Content-Type: application/octet-stream;\n"
	    " name*0*=utf-8''%E2%82%AC;\n"
	    " name*1=\" rates.txt\";\n"
	    " title*=us-ascii'en'This%20is%20it;\n"
	    " x*0=\"a\"; x*2=\"c\";\n"
	    " y*1=\"second\"; y*0*=iso-8859-1''%E9;\n"
	    " z*0=\"50%\"; z*1*=%21\n"
	    "Content-Disposition: attachment;"
	    " filename*=UTF-8''%E2%82%AC%20rates.txt\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAAA\n", 0, NULL,
	    "(\"application\" \"octet-stream\" (\"name*\""
	    " \"utf-8''%E2%82%AC rates.txt\" \"title*\""
	    " \"us-ascii'en'This%20is%20it\" \"x*0\" \"a\" \"x*2\" \"c\" \"y*\""
	    " \"iso-8859-1''%E9second\" \"z*\" \"''50%25%21\") NIL NIL"
	    " \"base64\" 6 NIL (\"attachment\" (\"filename*\""
	    " \"UTF-8''%E2%82%AC%20rates.txt\")) NIL NIL)", NULL, NULL },
	{ "encoded-words",
	    "From: =?UTF-8?Q?J=C3=B6rg?= <j@example.de>\n"
	    "To: \"=?iso-8859-1?q?Andr=E9?=\" <a@x.fr>,\n"
	    " =?utf-8?b?5pel5pys?= <n@x.jp>\n"
	    "Subject: =?utf-8?q?caf=C3=A9?=\n"
	    "  =?utf-8?q?_ol=C3=A9?=\n"
	    "\n", 0,
	    "(NIL \"=?utf-8?q?caf=C3=A9?=  =?utf-8?q?_ol=C3=A9?=\""
	    " ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"j\" \"example.de\"))"
	    " ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"j\" \"example.de\"))"
	    " ((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"j\" \"example.de\"))"
	    " ((\"=?iso-8859-1?q?Andr=E9?=\" NIL \"a\" \"x.fr\")"
	    "(\"=?utf-8?b?5pel5pys?=\" NIL \"n\" \"x.jp\")) NIL NIL NIL NIL)",
	    "(" TP "0 0 NIL NIL NIL NIL)", NULL, NULL },
	{ "addresses",
	    "From: \"Smith, John\" <john@a.example> (comment)\n"
	    "Sender: <@relay1,@relay2:bounce@b.example>\n"
	    "Reply-To: Team: alice@a.example, \"Bob B.\" <bob@b.example>;,"
	    " carol@c.example\n"
	    "To: undisclosed-recipients:;\n"
	    "Cc: \"quoted\\\"local\"@q.example, John Q. Public"
	    " <jqp@x.example>, bare\n"
	    "Bcc: \xc3\x9cn\xc3\xaf" "code Name <u@x.example>,"
	    " (only comment) , , foo@bar (Old Style)\n"
	    "In-Reply-To: <prev@x>\n"
	    "Message-ID: <id@x>\n"
	    "\n", 0,
	    "(NIL NIL ((\"Smith, John\" NIL \"john\" \"a.example\"))"
	    " ((NIL \"@relay1,@relay2\" \"bounce\" \"b.example\"))"
	    " ((NIL NIL \"Team\" NIL)(NIL NIL \"alice\" \"a.example\")"
	    "(\"Bob B.\" NIL \"bob\" \"b.example\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"carol\" \"c.example\"))"
	    " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
	    " ((NIL NIL \"\\\"quoted\\\\\\\"local\\\"\" \"q.example\")"
	    "(\"John Q. Public\" NIL \"jqp\" \"x.example\")"
	    "(NIL NIL \"bare\" \"\"))"
	    " (({14}\r\n\xc3\x9cn\xc3\xaf" "code Name NIL \"u\" \"x.example\")"
	    "(\"Old Style\" NIL \"foo\" \"bar\"))"
	    " \"<prev@x>\" \"<id@x>\")", NULL, NULL, NULL },
	{ "no-header",
	    "\n"
	    "body only\n", 0, ALL_NIL,
	    "(" TP "11 1 NIL NIL NIL NIL)", NULL,
	    "1 text/plain 0+2 2+11 1;" },
	{ "header-only",
	    "Subject: x\n", 0,
	    "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(" TP "0 0 NIL NIL NIL NIL)", NULL,
	    "1 text/plain 0+12 12+0 0;" },
	{ "empty", "", 0, ALL_NIL, "(" TP "0 0 NIL NIL NIL NIL)", NULL,
	    "1 text/plain 0+0 0+0 0;" },
	{ "boundary-never-seen",
	    "Content-Type: multipart/mixed; boundary=zz\n"
	    "\n"
	    "--z\n"
	    "text\n", 0, NULL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"zz\") NIL"
	    " NIL NIL)", NULL,
	    " multipart/mixed 0+46 46+11 2;" },
	{ "no-close-delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "one\n"
	    "--b\n"
	    "\n"
	    "two\n", 0, NULL,
	    "((" TP "3 1 NIL NIL NIL NIL)(" TP "5 1 NIL NIL NIL NIL) \"mixed\""
	    " (\"boundary\" \"b\") NIL NIL NIL)", NULL,
	    " multipart/mixed 0+45 45+24 6;"
	    "1 text/plain 50+2 52+3 1;"
	    "2 text/plain 62+2 64+5 1;" },
	{ "header-into-delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "--b--\n", 0, NULL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL"
	    " NIL NIL)", NULL,
	    " multipart/mixed 0+45 45+38 3;"
	    "1 text/plain 50+24 74+0 0;" },
	{ "header-blank-line-then-delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "--b--\n", 0, NULL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL"
	    " NIL NIL)", NULL,
	    " multipart/mixed 0+45 45+40 4;"
	    "1 text/plain 50+26 76+0 0;" },
	{ "empty-rfc822-before-delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "--b--\n", 0, NULL,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 " ALL_NIL
	    " (" TP "0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL) \"mixed\""
	    " (\"boundary\" \"b\") NIL NIL NIL)", NULL,
	    " multipart/mixed 0+45 45+44 4;"
	    "1 message/rfc822 50+30 80+0 0;"
	    "1.1 text/plain 80+0 80+0 0;" },
	{ "empty-last-part-at-outer-delimiter",
	    "Content-Type: multipart/mixed; boundary=out\n"
	    "\n"
	    "--out\n"
	    "Content-Type: multipart/alternative; boundary=in\n"
	    "\n"
	    "--in\n"
	    "--out--\n", 0, NULL,
	    "(((" TP "0 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\""
	    " \"in\") NIL NIL NIL) \"mixed\" (\"boundary\" \"out\") NIL NIL"
	    " NIL)", NULL,
	    " multipart/mixed 0+47 47+74 5;"
	    "1 multipart/alternative 54+52 106+6 1;"
	    "1.1 text/plain 112+0 112+0 0;" },
	{ "empty-last-part-in-rfc822",
	    "Content-Type: multipart/mixed; boundary=out\n"
	    "\n"
	    "--out\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Content-Type: multipart/alternative; boundary=in\n"
	    "\n"
	    "--in\n"
	    "--out--\n", 0, NULL,
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 58 " ALL_NIL
	    " ((" TP "0 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\""
	    " \"in\") NIL NIL NIL) 3 NIL NIL NIL NIL) \"mixed\" (\"boundary\""
	    " \"out\") NIL NIL NIL)", NULL,
	    " multipart/mixed 0+47 47+106 7;"
	    "1 message/rfc822 54+32 86+58 3;"
	    "1 multipart/alternative 86+52 138+6 1;"
	    "1.1 text/plain 144+0 144+0 0;" },
	{ "delimiter-white-space-and-junk",
	    "Content-Type: multipart/mixed; boundary=\"b\"\n"
	    "\n"
	    "--b  \t\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "x\n"
	    "--b junk\n"
	    "y\n"
	    "--b--   \n"
	    "epilogue\n", 0, NULL,
	    "((" TP "14 3 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL"
	    " NIL NIL)", NULL, NULL },
	{ "bad-content-type",
	    "Content-Type: multipart\n"
	    "Content-Transfer-Encoding: X-UUencode\n"
	    "\n"
	    "begin\n", 0, NULL,
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
	    " \"x-uuencode\" 7 1 NIL NIL NIL NIL)", NULL, NULL },
	{ "multipart-without-boundary",
	    "Content-Type: multipart/mixed\n"
	    "\n"
	    "--x\n"
	    "\n"
	    "hi\n", 0, NULL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
	    NULL, " multipart/mixed 0+33 33+11 3;" },
	{ "multipart-base64",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "x\n", 0, NULL,
	    "((" TP "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL"
	    " NIL NIL)", NULL, " multipart/mixed 0+80 80+10 3;" },
	{ "message-global-base64",
	    "Content-Type: message/global\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "U3ViamVjdDogeA==\n", 0, NULL,
	    "(\"message\" \"global\" NIL NIL NIL \"base64\" 18 " ALL_NIL
	    " (" TP "0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)", NULL,
	    "1 message/global 0+67 67+18 1;" },
	{ "message-global",
	    "Content-Type: message/global\n"
	    "\n"
	    "Subject: \xc3\xa9t\xc3\xa9\n"
	    "\n"
	    "x\n", 0, NULL,
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 21 (NIL"
	    " {5}\r\n\xc3\xa9t\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)"
	    " (" TP "3 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)", NULL,
	    "1 message/global 0+32 32+21 3;"
	    "1.1 text/plain 32+18 50+3 1;" },
	{ "content-type-comments-and-defaults",
	    "Content-Type: (c) Text / HTML (c2) ; (x) CharSet = \"iso-8859-1\""
	    " (y)\n"
	    "Content-Type: text/plain\n"
	    "Subject: first\n"
	    "Subject: second\n"
	    "Content-Language: de-DE\n"
	    "\n"
	    "x", 0,
	    "(NIL \"first\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	    "(\"text\" \"html\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 1"
	    " 1 NIL NIL (\"de-DE\") NIL)", NULL, NULL },
	{ "quoting",
	    "Subject: say \"hi\" \\o/\n"
	    "Date: \xff\n"
	    "Message-ID: a\rb\n"
	    "Content-Type: text/plain; name=\"unterminated\n"
	    "\n", 0,
	    "({1}\r\n\xff \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL NIL NIL NIL NIL"
	    " {3}\r\na\rb)",
	    "(\"text\" \"plain\" (\"name\" \"unterminated\" \"charset\""
	    " \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)", NULL,
	    NULL },
};

/* "\n" -> "\r\n" unless RAW. */
static char *
msg_text(const struct mcase *c, size_t *len_r)
{
	size_t	 n = strlen(c->msg), i, k = 0;
	char	*o = malloc(2 * n + 1);

	assert_non_null(o);
	for (i = 0; i < n; i++) {
		if (c->msg[i] == '\n' && !(c->flags & RAW))
			o[k++] = '\r';
		o[k++] = c->msg[i];
	}
	o[k] = '\0';
	*len_r = k;
	return o;
}

static char *
sections(const struct mime_msg *msg)
{
	struct buf		 b;
	const struct mime_part	*p;
	size_t			 i;

	buf_init(&b, 1 << 20);
	for (i = 0; i < mime_part_count(msg); i++) {
		p = mime_part_at(msg, i);
		buf_printf(&b, "%s %s/%s %zu+%zu %zu+%zu %llu;", p->section,
		    p->type, p->subtype, p->hdr_off, p->hdr_len, p->body_off,
		    p->body_len, (unsigned long long)p->body_lines);
	}
	return buf_steal(&b, NULL);
}

static void
expect_write(const struct mime_part *root, int what, const char *want)
{
	struct buf	 b;

	buf_init(&b, 1 << 20);
	if (what == 0)
		assert_int_equal(mime_envelope_write(&b, root), 0);
	else
		assert_int_equal(mime_body_write(&b, root, what == 2), 0);
	assert_string_equal(buf_cstr(&b), want);
	assert_true(imap_check(&b, what != 0, what == 2));
	buf_clear(&b);
}

static void
test_cases(void **state)
{
	const struct mcase	*c;
	struct mime_msg		*msg;
	size_t			 i, len;
	char			*m, *s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		print_message("case %s\n", c->name);
		m = msg_text(c, &len);
		msg = mime_parse((const uint8_t *)m, len, NULL);
		if (c->env != NULL)
			expect_write(mime_root(msg), 0, c->env);
		if (c->bs != NULL)
			expect_write(mime_root(msg), 2, c->bs);
		if (c->body != NULL)
			expect_write(mime_root(msg), 1, c->body);
		if (c->sections != NULL) {
			s = sections(msg);
			assert_string_equal(s, c->sections);
			free(s);
		}
		assert_false(mime_limited(msg));
		mime_free(&msg);
		assert_null(msg);
		LLVMFuzzerTestOneInput((const uint8_t *)m, len);
		free(m);
	}
}

/* Dovecot test-imap-envelope.c parse_tests[] (with outer parentheses). */
static const struct {
	const char	*msg;
	const char	*env;
} env_cases[] = {
	{ "Message-ID: <msg@id>\n"
	  "In-Reply-To: <reply@to.id>\n"
	  "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "Subject: subject header\n"
	  "From: From Real <fromuser@fromdomain.org>\n"
	  "To: To Real <touser@todomain.org>\n"
	  "Cc: Cc Real <ccuser@ccdomain.org>\n"
	  "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
	  "Sender: Sender Real <senderuser@senderdomain.org>\n"
	  "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" \"subject header\""
	  " ((\"From Real\" NIL \"fromuser\" \"fromdomain.org\"))"
	  " ((\"Sender Real\" NIL \"senderuser\" \"senderdomain.org\"))"
	  " ((\"ReplyTo Real\" NIL \"replytouser\" \"replytodomain.org\"))"
	  " ((\"To Real\" NIL \"touser\" \"todomain.org\"))"
	  " ((\"Cc Real\" NIL \"ccuser\" \"ccdomain.org\"))"
	  " ((\"Bcc Real\" NIL \"bccuser\" \"bccdomain.org\"))"
	  " \"<reply@to.id>\" \"<msg@id>\")" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\"))"
	  " ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain (Real Name)\n"
	  "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
	  "Cc: group:;, group2: (foo) ;\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")"
	  "(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")"
	  "(NIL NIL NIL NIL))"
	  " ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)"
	  "(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: user@domain (Real Name)\n"
	  "Sender: \n"
	  "Reply-To: \n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\"))"
	  " ((\"Real Name\" NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
	{ "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
	  "From: <@route:user@domain>\n"
	  "\n"
	  "body\n",
	  "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL"
	  " ((NIL \"@route\" \"user\" \"domain\"))"
	  " ((NIL \"@route\" \"user\" \"domain\"))"
	  " ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
};

static void
test_dovecot_envelopes(void **state)
{
	struct mime_msg	*msg;
	struct mcase	 c;
	size_t		 i, len;
	char		*m;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		c.msg = env_cases[i].msg;
		m = msg_text(&c, &len);
		msg = mime_parse((const uint8_t *)m, len, NULL);
		expect_write(mime_root(msg), 0, env_cases[i].env);
		mime_free(&msg);
		free(m);
	}
}

/* The rfc822-attached case: section lookups and the tree. */
static void
test_sections(void **state)
{
	struct mime_msg		*msg;
	const struct mime_part	*p;
	size_t			 len;
	char			*m;

	m = msg_text(&cases[10], &len);
	assert_string_equal(cases[10].name, "rfc822-attached");
	msg = mime_parse((const uint8_t *)m, len, NULL);
	assert_ptr_equal(mime_section_find(msg, ""), mime_root(msg));
	p = mime_section_find(msg, "2");
	assert_non_null(p);
	assert_int_equal(p->index, 2);
	assert_true(p->flags & MIME_PART_F_ENCAPS);
	assert_int_equal(p->nchildren, 1);
	assert_ptr_equal(p->children, mime_section_find(msg, "2.1"));
	assert_true(p->children->flags & MIME_PART_F_MESSAGE);
	assert_string_equal(p->children->env[MIME_ENV_SUBJECT], "hello");
	assert_string_equal(p->disposition, "inline");
	/* BODY[2.HEADER] is the child's header, BODY[2] the whole message */
	assert_int_equal(p->children->hdr_off, p->body_off);
	assert_memory_equal(m + p->children->hdr_off, "From: \"Q, Person\"",
	    17);
	assert_memory_equal(m + p->children->body_off, "inner body", 10);
	assert_null(mime_section_find(msg, "3"));
	assert_null(mime_section_find(msg, "2.2"));
	assert_null(mime_section_find(msg, "1.1"));
	assert_null(mime_section_find(msg, "0"));
	p = mime_root(msg);
	assert_true(p->flags & MIME_PART_F_MULTIPART);
	assert_true(p->flags & MIME_PART_F_MESSAGE);
	assert_int_equal(p->nchildren, 2);
	assert_string_equal(mime_part_param(p, "boundary"), "b1");
	assert_null(mime_part_param(p, "charset"));
	assert_null(p->charset);
	assert_string_equal(p->children->charset, "us-ascii");
	assert_null(mime_part_at(msg, 4));
	mime_free(&msg);
	mime_free(&msg);		/* NULL is fine */
	free(m);

	/* Dovecot's message: "2" names the message/rfc822 part first. */
	m = msg_text(&cases[4], &len);
	msg = mime_parse((const uint8_t *)m, len, NULL);
	p = mime_section_find(msg, "2");
	assert_string_equal(p->type, "message");
	assert_string_equal(p->children->section, "2");
	assert_string_equal(p->children->subtype, "alternative");
	assert_string_equal(mime_section_find(msg, "2.2")->subtype, "plain");
	assert_int_equal(mime_section_find(msg, "2.1")->encoding,
	    MIME_ENC_8BIT);
	assert_string_equal(mime_section_find(msg, "1")->md5,
	    "Q2hlY2sgSW50ZWdyaXR5IQ==");
	mime_free(&msg);
	free(m);
}

static struct mime_msg *
parse_str(const char *s)
{
	return mime_parse((const uint8_t *)s, strlen(s), NULL);
}

/* The example of RFC 3501 §6.4.5, as a message. */
static const char rfc3501_msg[] =
    "Subject: example\r\n"
    "Content-Type: MULTIPART/MIXED; boundary=0\r\n\r\n"
    "--0\r\n\r\none\r\n"
    "--0\r\nContent-Type: APPLICATION/OCTET-STREAM\r\n\r\ntwo\r\n"
    "--0\r\nContent-Type: MESSAGE/RFC822\r\n\r\n"
	"Subject: three\r\n"
	"Content-Type: MULTIPART/MIXED; boundary=3\r\n\r\n"
	"--3\r\n\r\n3.1\r\n"
	"--3\r\nContent-Type: APPLICATION/OCTET-STREAM\r\n\r\n3.2\r\n"
	"--3--\r\n"
    "--0\r\nContent-Type: MULTIPART/MIXED; boundary=4\r\n\r\n"
	"--4\r\nContent-Type: IMAGE/GIF\r\n\r\nGIF89a\r\n"
	"--4\r\nContent-Type: MESSAGE/RFC822\r\n\r\n"
	    "Subject: 4.2\r\n"
	    "Content-Type: MULTIPART/MIXED; boundary=42\r\n\r\n"
	    "--42\r\n\r\n4.2.1\r\n"
	    "--42\r\nContent-Type: MULTIPART/ALTERNATIVE; boundary=422\r\n"
	    "\r\n"
		"--422\r\n\r\n4.2.2.1\r\n"
		"--422\r\nContent-Type: TEXT/RICHTEXT\r\n\r\n4.2.2.2\r\n"
		"--422--\r\n"
	    "--42--\r\n"
	"--4--\r\n"
    "--0--\r\n";

static void
test_rfc3501_sections(void **state)
{
	static const struct {
		const char	*section;
		const char	*type;
	} want[] = {
		{ "", "multipart/mixed" },
		{ "1", "text/plain" },
		{ "2", "application/octet-stream" },
		{ "3", "message/rfc822" },
		{ "3.1", "text/plain" },
		{ "3.2", "application/octet-stream" },
		{ "4", "multipart/mixed" },
		{ "4.1", "image/gif" },
		{ "4.2", "message/rfc822" },
		{ "4.2.1", "text/plain" },
		{ "4.2.2", "multipart/alternative" },
		{ "4.2.2.1", "text/plain" },
		{ "4.2.2.2", "text/richtext" },
	};
	static const char *const bad[] = {
		"0", "01", "1.", ".1", "1..2", "a", "1a", "5", "1.1", "4.3",
		"4.1.1", "3.3", "4.2.2.3", "99999999999999999999",
	};
	struct mime_msg		*msg;
	const struct mime_part	*p;
	char			 t[64];
	size_t			 i;

	msg = parse_str(rfc3501_msg);
	assert_int_equal(mime_part_count(msg), 15);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = mime_section_find(msg, want[i].section);
		assert_non_null(p);
		snprintf(t, sizeof(t), "%s/%s", p->type, p->subtype);
		assert_string_equal(t, want[i].type);
		assert_string_equal(p->section, want[i].section);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(mime_section_find(msg, bad[i]));
	/* 3.HEADER and 3.TEXT: the encapsulated message, numbered "3" */
	p = mime_section_find(msg, "3")->children;
	assert_string_equal(p->section, "3");
	assert_string_equal(p->env[MIME_ENV_SUBJECT], "three");
	assert_true(p->flags & MIME_PART_F_MULTIPART);
	assert_string_equal(mime_section_find(msg, "4.2")->children->section,
	    "4.2");
	/* 4.1.MIME: the image's own header */
	p = mime_section_find(msg, "4.1");
	assert_memory_equal(rfc3501_msg + p->hdr_off,
	    "Content-Type: IMAGE/GIF\r\n\r\n", p->hdr_len);
	assert_memory_equal(rfc3501_msg + p->body_off, "GIF89a", p->body_len);
	mime_free(&msg);

	/* a non-multipart message: its body is part 1 (and 1.MIME) */
	msg = parse_str("Content-Type: message/rfc822\r\n\r\n"
	    "Subject: in\r\n\r\nbody\r\n");
	assert_ptr_equal(mime_section_find(msg, "1"), mime_root(msg));
	assert_ptr_equal(mime_section_find(msg, ""), mime_root(msg));
	p = mime_section_find(msg, "1.1");
	assert_string_equal(p->env[MIME_ENV_SUBJECT], "in");
	assert_null(mime_section_find(msg, "2"));
	mime_free(&msg);
}


static void
test_fields(void **state)
{
	struct mime_msg		*msg;
	const struct mime_part	*p;
	static const char	 nul[] = "Subject: a\0b\r\n"
	    "Content-Type: te\0xt/html\r\nX: \0\r\n\r\nbo\0dy";

	msg = mime_parse((const uint8_t *)nul, sizeof(nul) - 1, NULL);
	p = mime_root(msg);
	assert_string_equal(p->env[MIME_ENV_SUBJECT], "ab");
	assert_string_equal(p->subtype, "html");
	assert_int_equal(p->body_len, 5);
	mime_free(&msg);

	/* obs: white space before the colon; folded name value */
	msg = parse_str("Subject  :\r\n  folded\r\n\tvalue\r\n"
	    "Content-ID:<x@y>\r\nContent-Description:\r\n\r\n");
	p = mime_root(msg);
	assert_string_equal(p->env[MIME_ENV_SUBJECT], "folded\tvalue");
	assert_string_equal(p->id, "<x@y>");
	assert_string_equal(p->description, "");
	assert_null(p->md5);
	assert_null(p->location);
	mime_free(&msg);

	/* a leading continuation line, a line without colon */
	msg = parse_str(" lost\r\nno colon here\r\nSubject: ok\r\n\r\nb");
	p = mime_root(msg);
	assert_string_equal(p->env[MIME_ENV_SUBJECT], "ok");
	assert_int_equal(p->body_off, 37);
	mime_free(&msg);

	/* Content-Transfer-Encoding: the known tokens and garbage */
	msg = parse_str("Content-Transfer-Encoding: Quoted-Printable (c)\r\n");
	assert_int_equal(mime_root(msg)->encoding, MIME_ENC_QP);
	assert_string_equal(mime_root(msg)->cte, "quoted-printable");
	mime_free(&msg);
	msg = parse_str("Content-Transfer-Encoding: 8bit junk\r\n");
	assert_int_equal(mime_root(msg)->encoding, MIME_ENC_7BIT);
	assert_string_equal(mime_root(msg)->cte, "7bit");
	mime_free(&msg);
	msg = parse_str("Content-Transfer-Encoding: binary\r\n"
	    "Content-Disposition: ;\r\nContent-Language: ,en\r\n");
	assert_int_equal(mime_root(msg)->encoding, MIME_ENC_BINARY);
	assert_null(mime_root(msg)->disposition);
	assert_int_equal(mime_root(msg)->nlanguages, 0);
	mime_free(&msg);

	/* parameters: garbage, missing "=", empty and odd values */
	msg = parse_str("Content-Type: text/plain junk; a; =b; c=; "
	    "d=x y; e=\"q\\\"\"; F=1\r\n");
	p = mime_root(msg);
	assert_int_equal(p->nparams, 4);
	assert_string_equal(mime_part_param(p, "c"), "");
	assert_string_equal(mime_part_param(p, "d"), "x");
	assert_string_equal(mime_part_param(p, "e"), "q\"");
	assert_string_equal(mime_part_param(p, "f"), "1");
	mime_free(&msg);
}

/*
 * Decoders.
 */

struct dcase {
	const char	*in;
	const char	*out;
	bool		 damaged;
};

static void
check_dec(int (*fn)(struct buf *, const void *, size_t, bool *),
    const struct dcase *c, size_t n)
{
	struct buf	 b;
	bool		 damaged;
	size_t		 i;

	for (i = 0; i < n; i++) {
		buf_init(&b, 1024);
		damaged = !c[i].damaged;
		assert_int_equal(fn(&b, c[i].in, strlen(c[i].in), &damaged), 0);
		assert_int_equal(b.len, strlen(c[i].out));
		assert_memory_equal(buf_cstr(&b), c[i].out, b.len);
		assert_int_equal(damaged, c[i].damaged);
		assert_int_equal(fn(&b, c[i].in, strlen(c[i].in), NULL), 0);
		buf_clear(&b);
	}
}

static const struct dcase b64_cases[] = {
	{ "aGVsbG8=", "hello", false },
	{ "aGVs\r\nbG8=\r\n", "hello", false },
	{ "aGVsbG8", "hello", false },
	{ "aGVsbG8h", "hello!", false },
	{ "aGk=aGk=", "hihi", false },
	{ "====", "", false },
	{ "", "", false },
	{ "a", "", true },
	{ "aGVs*bG8=", "hello", true },
	{ "a=Zm9v", "foo", true },
	{ "=a", "", true },
	{ "AQID/w==", "\x01\x02\x03\xff", false },
};

static const struct dcase qp_cases[] = {
	{ "caf=C3=A9", "caf\xc3\xa9", false },
	{ "a=\r\nb", "ab", false },
	{ "a = \r\nb", "a b", false },
	{ "trailing  \t\r\nx", "trailing\r\nx", false },
	{ "lf\nonly\n", "lf\nonly\n", false },
	{ "=3d=3D", "==", false },
	{ "end=", "end", false },
	{ "bad=ZZ", "bad=ZZ", true },
	{ "=4", "=4", true },
	{ "=\r\n=\r\n", "", false },
	{ "8bit \xc3\xa9 kept", "8bit \xc3\xa9 kept", false },
};

static void
test_base64_qp(void **state)
{
	struct buf	 b;
	bool		 d;

	check_dec(mime_base64_decode, b64_cases,
	    sizeof(b64_cases) / sizeof(b64_cases[0]));
	check_dec(mime_qp_decode, qp_cases,
	    sizeof(qp_cases) / sizeof(qp_cases[0]));

	/* output limits: a prefix, then -1 */
	buf_init(&b, 3);
	assert_int_equal(mime_base64_decode(&b, "aGVsbG8=", 8, &d), -1);
	assert_string_equal(buf_cstr(&b), "hel");
	buf_reset(&b);
	assert_int_equal(mime_qp_decode(&b, "ab=3Dcd", 7, &d), -1);
	assert_string_equal(buf_cstr(&b), "ab=");
	buf_reset(&b);
	assert_int_equal(mime_body_decode(&b, MIME_ENC_7BIT, "abcd", 4, &d),
	    -1);
	assert_string_equal(buf_cstr(&b), "abc");
	assert_false(d);
	buf_reset(&b);
	assert_int_equal(mime_body_decode(&b, MIME_ENC_OTHER, "ab", 2, &d), 0);
	assert_true(d);
	assert_string_equal(buf_cstr(&b), "ab");
	buf_reset(&b);
	assert_int_equal(mime_body_decode(&b, MIME_ENC_BASE64, "YWI=", 4, &d),
	    0);
	assert_string_equal(buf_cstr(&b), "ab");
	buf_reset(&b);
	assert_int_equal(mime_body_decode(&b, MIME_ENC_QP, "a=\r\n", 4, NULL),
	    0);
	assert_string_equal(buf_cstr(&b), "a");
	buf_clear(&b);
}

static void
test_base64_large(void **state)
{
	struct buf	 in, out;
	size_t		 i;
	bool		 d;

	/* 1 MiB of "AAAA\r\n"-style lines decodes in chunks */
	buf_init(&in, 1 << 22);
	for (i = 0; i < (1 << 20) / 78; i++)
		buf_add_str(&in, "/////////////////////////////////////////"
		    "///////////////////////////////////\r\n");
	buf_init(&out, 1 << 22);
	assert_int_equal(mime_base64_decode(&out, BUF_DATA(&in), in.len, &d),
	    0);
	assert_false(d);
	assert_int_equal(out.len, (1 << 20) / 78 * 57);
	for (i = 0; i < out.len; i++)
		assert_int_equal(BUF_DATA(&out)[i], 0xff);
	buf_clear(&out);
	buf_init(&out, 5000);
	assert_int_equal(mime_base64_decode(&out, BUF_DATA(&in), in.len, &d),
	    -1);
	assert_int_equal(out.len, 5000);
	buf_clear(&out);
	buf_clear(&in);
}

static const struct {
	const char	*in;
	const char	*out;
} hdr_cases[] = {
	{ "=?utf-8?q?caf=C3=A9?= =?utf-8?q?_ol=C3=A9?=",
	    "caf\xc3\xa9 ol\xc3\xa9" },
	{ "=?UTF-8?Q?J=C3=B6rg?= <j@example.de>",
	    "J\xc3\xb6rg <j@example.de>" },
	{ "=?iso-8859-1?q?Andr=E9?=", "Andr\xc3\xa9" },
	{ "=?ISO-8859-1?B?R3L832U=?=", "Gr\xc3\xbc\xc3\x9f" "e" },
	{ "=?utf-8?b?5pel5pys?=", "\xe6\x97\xa5\xe6\x9c\xac" },
	{ "a =?utf-8?q?x?= b", "a x b" },
	{ "=?utf-8?q?a?=  \t\r\n =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?= z =?utf-8?q?b?=", "a z b" },
	{ "=?utf-8?q?x?==?utf-8?q?y?=", "xy" },
	/* a character split across words (RFC 2047 §5 says no; senders do) */
	{ "=?utf-8?b?4g==?= =?utf-8?b?gqw=?=", "\xe2\x82\xac" },
	{ "=?utf-8?b?4g==?= =?iso-8859-1?q?x?=", "\xef\xbf\xbdx" },
	{ "=?utf-8*en?q?hi?=", "hi" },
	{ "=?iso-8859-15?q?=A4?=", "\xe2\x82\xac" },
	{ "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
	{ "=?shift_jis?b?k/qWew==?=", "\xe6\x97\xa5\xe6\x9c\xac" },
	{ "=?shift_jis?q?=81?=", "\xef\xbf\xbd" },
	{ "=?x-unknown?q?abc?=", "abc" },
	{ "=?bad name?q?abc?=", "=?bad name?q?abc?=" },
	{ "=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd" "b" },
	{ "=?utf-8?q?a=00b?=", "a\xef\xbf\xbd" "b" },
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
	{ "=?utf-8?q?sp ace?=", "=?utf-8?q?sp ace?=" },
	{ "=?=?utf-8?q?ok?=", "=?ok" },
	{ "=?\?q?x?=", "=?\?q?x?=" },
	{ "=?utf-8?q?\?=", "" },
	{ "\xff raw \xc3\xa9", "\xef\xbf\xbd raw \xc3\xa9" },
	{ "\xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
	    "\xef\xbf\xbd\xef\xbf\xbd" },
	{ "", "" },
	{ "plain", "plain" },
};

static void
test_header_decode(void **state)
{
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		print_message("header %zu\n", i);
		buf_init(&b, 1024);
		assert_int_equal(mime_header_decode(&b, hdr_cases[i].in,
		    strlen(hdr_cases[i].in)), 0);
		assert_string_equal(buf_cstr(&b), hdr_cases[i].out);
		buf_clear(&b);
	}
	/* a full buffer never ends inside a character */
	buf_init(&b, 5);
	assert_int_equal(mime_header_decode(&b,
	    "=?utf-8?q?=C3=A9=C3=A9=C3=A9?=", 30), -1);
	assert_string_equal(buf_cstr(&b), "\xc3\xa9\xc3\xa9");
	buf_reset(&b);
	assert_int_equal(mime_header_decode(&b, "\xe9\xe9", 2), -1);
	assert_string_equal(buf_cstr(&b), "\xef\xbf\xbd");
	buf_reset(&b);
	assert_int_equal(mime_header_decode(&b, "abcdef", 6), -1);
	assert_string_equal(buf_cstr(&b), "abcde");
	buf_clear(&b);
}

static void
test_rfc2231_charset(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} c[] = {
		{ "utf-8''%E2%82%AC rates.txt", "\xe2\x82\xac rates.txt" },
		{ "UTF-8''%E2%82%AC%20rates.txt", "\xe2\x82\xac rates.txt" },
		{ "iso-8859-1''%E9second", "\xc3\xa9second" },
		{ "iso-8859-1'en'%e9t%E9", "\xc3\xa9t\xc3\xa9" },
		{ "''50%2521", "50%21" },
		{ "''50%25%21", "50%!" },
		{ "noquotes%41", "noquotesA" },
		{ "us-ascii''%ZZ%4", "%ZZ%4" },
		{ "utf-8''%00", "\xef\xbf\xbd" },
		{ "", "" },
	};
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		buf_init(&b, 1024);
		assert_int_equal(mime_rfc2231_decode(&b, c[i].in), 0);
		assert_string_equal(buf_cstr(&b), c[i].out);
		buf_clear(&b);
	}
	buf_init(&b, 1024);
	assert_int_equal(mime_charset_to_utf8(&b, "ISO-8859-1", "\xe9", 1), 0);
	assert_int_equal(mime_charset_to_utf8(&b, NULL, "\xe9", 1), 0);
	assert_int_equal(mime_charset_to_utf8(&b, "us-ascii", "a", 1), 0);
	assert_int_equal(mime_charset_to_utf8(&b, "koi8-r", "\xc1", 1), 0);
	assert_int_equal(mime_charset_to_utf8(&b, "no-such-cs", "\xc1", 1), 0);
	assert_string_equal(buf_cstr(&b), "\xc3\xa9\xef\xbf\xbd" "a"
	    "\xd0\xb0\xef\xbf\xbd");
	buf_clear(&b);
	buf_init(&b, 4);
	assert_int_equal(mime_rfc2231_decode(&b, "''abcdef"), -1);
	assert_string_equal(buf_cstr(&b), "abcd");
	buf_clear(&b);
}

/*
 * Writers: every output size below the full one fails, the full one fits.
 */
static void
test_write_limits(void **state)
{
	struct mime_msg	*msg;
	struct buf	 b;
	size_t		 full, max, len;
	char		*m;
	int		 what;

	m = msg_text(&cases[4], &len);
	msg = mime_parse((const uint8_t *)m, len, NULL);
	for (what = 0; what < 3; what++) {
		buf_init(&b, 1 << 20);
		if (what == 0)
			mime_envelope_write(&b, mime_root(msg));
		else
			mime_body_write(&b, mime_root(msg), what == 2);
		full = b.len;
		buf_clear(&b);
		for (max = 0; max <= full; max++) {
			buf_init(&b, max);
			assert_int_equal(what == 0 ?
			    mime_envelope_write(&b, mime_root(msg)) :
			    mime_body_write(&b, mime_root(msg), what == 2),
			    max == full ? 0 : -1);
			buf_clear(&b);
		}
	}
	mime_free(&msg);
	free(m);
}

/* Every prefix of a message parses into a valid tree and valid output. */
static void
test_prefixes(void **state)
{
	size_t	 len, i, k;
	char	*m;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		m = msg_text(&cases[k], &len);
		for (i = 0; i <= len; i++)
			LLVMFuzzerTestOneInput((const uint8_t *)m, i);
		free(m);
	}
}

/*
 * Limits.
 */

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Parse and write (within max_secs), then check the tree and the output
 * grammar; returns the message.
 */
static struct mime_msg *
parse_checked(const struct buf *in, const struct mime_limits *lim,
    double max_secs)
{
	struct mime_msg	*msg;
	struct buf	 bs, env;
	double		 t0 = now(), t;
	size_t		 i;

	buf_init(&bs, 256 * 1024 * 1024);
	buf_init(&env, 1024 * 1024);
	msg = mime_parse(BUF_DATA(in), in->len, lim);
	assert_int_equal(mime_body_write(&bs, mime_root(msg), true), 0);
	assert_int_equal(mime_envelope_write(&env, mime_root(msg)), 0);
	t = now() - t0;
	print_message("%zu octets, %zu parts: %.3f s\n", in->len,
	    mime_part_count(msg), t);
	assert_true(t < max_secs);
	assert_true(imap_check(&bs, true, true));
	assert_true(imap_check(&env, false, false));
	buf_clear(&bs);
	buf_clear(&env);
	for (i = 0; i < mime_part_count(msg); i++)
		check_part(msg, mime_part_at(msg, i), in->len);
	return msg;
}

static void
test_limit_depth(void **state)
{
	struct mime_msg		*msg;
	const struct mime_part	*p;
	struct buf		 in;
	int			 i;

	buf_init(&in, 1 << 20);
	for (i = 0; i < 60; i++)
		buf_printf(&in, "Content-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	buf_add_str(&in, "\r\ninnermost\r\n");
	for (i = 59; i >= 0; i--)
		buf_printf(&in, "--b%d--\r\n", i);
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(mime_part_count(msg), MIME_DEPTH_MAX + 1);
	p = mime_part_at(msg, MIME_DEPTH_MAX);
	assert_int_equal(p->depth, MIME_DEPTH_MAX);
	assert_true(p->flags & MIME_PART_F_OPAQUE);
	assert_true(mime_limited(msg));
	mime_free(&msg);

	/* 60 nested message/rfc822 */
	buf_reset(&in);
	for (i = 0; i < 60; i++)
		buf_add_str(&in, "Content-Type: message/rfc822\r\n\r\n");
	buf_add_str(&in, "Subject: deep\r\n\r\nbody\r\n");
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(mime_part_count(msg), MIME_DEPTH_MAX + 1);
	assert_true(mime_part_at(msg, MIME_DEPTH_MAX)->flags &
	    MIME_PART_F_OPAQUE);
	assert_int_equal(strlen(mime_part_at(msg, MIME_DEPTH_MAX)->section),
	    2 * MIME_DEPTH_MAX + 1);
	mime_free(&msg);

	/* depth_max 0: the top level is a leaf */
	msg = parse_checked(&in, &(struct mime_limits){ 0, 0, 0, 0, 0 }, 5);
	assert_int_equal(mime_part_count(msg), 1);
	mime_free(&msg);
	buf_clear(&in);
}

static void
test_limit_parts(void **state)
{
	struct mime_msg		*msg;
	const struct mime_part	*root;
	struct buf		 in;
	int			 i;

	buf_init(&in, 1 << 22);
	buf_add_str(&in, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (i = 0; i < 20000; i++)
		buf_add_str(&in, "--b\r\n\r\nx\r\n");
	buf_add_str(&in, "--b--\r\nepilogue\r\n");
	msg = parse_checked(&in, NULL, 5);
	root = mime_root(msg);
	assert_int_equal(mime_part_count(msg), MIME_PARTS_MAX);
	assert_int_equal(root->nchildren, MIME_PARTS_MAX - 1);
	assert_true(root->flags & MIME_PART_F_TRUNCATED);
	assert_int_equal(root->body_off + root->body_len, in.len);
	assert_string_equal(mime_part_at(msg, MIME_PARTS_MAX - 1)->section,
	    "9999");
	assert_true(mime_limited(msg));
	mime_free(&msg);

	/* a small parts_max, with message/rfc822 at the limit */
	buf_reset(&in);
	buf_add_str(&in, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: lost\r\n\r\nx\r\n--b--\r\n");
	msg = parse_checked(&in, &(struct mime_limits){ 50, 3, 0, 0, 0 }, 5);
	assert_int_equal(mime_part_count(msg), 3);
	assert_true(mime_part_at(msg, 2)->flags & MIME_PART_F_OPAQUE);
	mime_free(&msg);
	buf_clear(&in);
}

static void
test_limit_header(void **state)
{
	struct mime_msg		*msg;
	const struct mime_part	*root;
	struct buf		 in;
	int			 i;

	/* a 10 MB header line */
	buf_init(&in, 1 << 25);
	buf_add_str(&in, "Subject: ");
	memset(buf_reserve(&in, 10 * 1024 * 1024), '.', 10 * 1024 * 1024);
	buf_commit(&in, 10 * 1024 * 1024);
	buf_add_str(&in, "\r\nFrom: a@b\r\n\r\nbody\r\n");
	msg = parse_checked(&in, NULL, 5);
	root = mime_root(msg);
	/* the space after the colon was the first octet kept */
	assert_int_equal(strlen(root->env[MIME_ENV_SUBJECT]),
	    MIME_FIELD_MAX - 1);
	assert_string_equal(root->env[MIME_ENV_FROM], "a@b");
	assert_true(mime_limited(msg));
	mime_free(&msg);

	/* 200,000 fields, then a Content-Type nobody reads */
	buf_reset(&in);
	for (i = 0; i < 200000; i++)
		buf_add_str(&in, "X-Spam: y\r\n");
	buf_add_str(&in, "Content-Type: image/gif\r\n\r\nbody\r\n");
	msg = parse_checked(&in, NULL, 5);
	assert_string_equal(mime_root(msg)->type, "text");
	assert_true(mime_limited(msg));
	mime_free(&msg);

	/* 1,000,000 continuation lines */
	buf_reset(&in);
	buf_add_str(&in, "To: a@b");
	for (i = 0; i < 1000000; i++)
		buf_add_str(&in, ",\r\n c@d");
	buf_add_str(&in, "\r\n\r\n");
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(strlen(mime_root(msg)->env[MIME_ENV_TO]),
	    MIME_FIELD_MAX - 1);
	mime_free(&msg);

	/* 5,000 parameters, 5,000 languages */
	buf_reset(&in);
	buf_add_str(&in, "Content-Type: text/plain");
	for (i = 0; i < 5000; i++)
		buf_printf(&in, "; p*%d*=x", 4999 - i);
	buf_add_str(&in, "\r\nContent-Language: en");
	for (i = 0; i < 5000; i++)
		buf_add_str(&in, ", de");
	buf_add_str(&in, "\r\n\r\n");
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(mime_root(msg)->nparams, MIME_PARAMS_MAX);
	assert_int_equal(mime_root(msg)->nlanguages, MIME_PARAMS_MAX);
	mime_free(&msg);
	buf_clear(&in);
}

/*
 * Hostile bodies: 50 open boundaries of one length and millions of lines
 * that nearly match them; boundaries that never end; a long boundary.
 */
static void
test_limit_hostile(void **state)
{
	struct mime_msg	*msg;
	struct buf	 in;
	char		 bnd[MIME_BOUNDARY_MAX + 2];
	int		 i;

	buf_init(&in, 1 << 26);
	for (i = 0; i < 50; i++)
		buf_printf(&in, "Content-Type: multipart/mixed; boundary="
		    "\"%070d\"\r\n\r\n--%070d\r\n", i, i);
	while (in.len < 16 * 1024 * 1024)
		buf_printf(&in, "--%070d\r\n--\r\n-\r\n\r\n", 99);
	msg = parse_checked(&in, NULL, 10);
	assert_int_equal(mime_part_count(msg), 51);
	assert_int_equal(mime_part_at(msg, 50)->body_off +
	    mime_part_at(msg, 50)->body_len, in.len);
	mime_free(&msg);

	/* one big body, no boundary at all */
	buf_reset(&in);
	buf_add_str(&in, "Content-Type: text/plain\r\n\r\n");
	while (in.len < 32 * 1024 * 1024)
		buf_add_str(&in,
		    "a line of text that is not special at all\r\n");
	msg = parse_checked(&in, NULL, 10);
	assert_int_equal(mime_root(msg)->body_lines, (in.len - 28) / 43);
	mime_free(&msg);

	/* boundary over MIME_BOUNDARY_MAX: opaque */
	memset(bnd, 'b', sizeof(bnd) - 1);
	bnd[sizeof(bnd) - 1] = '\0';
	buf_reset(&in);
	buf_printf(&in, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n"
	    "--%s\r\n\r\nx\r\n--%s--\r\n", bnd, bnd, bnd);
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(mime_part_count(msg), 1);
	assert_true(mime_root(msg)->flags & MIME_PART_F_OPAQUE);
	mime_free(&msg);
	bnd[MIME_BOUNDARY_MAX] = '\0';
	buf_reset(&in);
	buf_printf(&in, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n"
	    "--%s\r\n\r\nx\r\n--%s--\r\n", bnd, bnd, bnd);
	msg = parse_checked(&in, NULL, 5);
	assert_int_equal(mime_part_count(msg), 2);
	mime_free(&msg);
	buf_clear(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_dovecot_envelopes),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_rfc3501_sections),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_base64_qp),
		cmocka_unit_test(test_base64_large),
		cmocka_unit_test(test_header_decode),
		cmocka_unit_test(test_rfc2231_charset),
		cmocka_unit_test(test_write_limits),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_parts),
		cmocka_unit_test(test_limit_header),
		cmocka_unit_test(test_limit_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
