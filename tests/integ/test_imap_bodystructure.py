"""imapd: a BODYSTRUCTURE corpus through the real server (RFC 9051
7.5.2, RFC 3501 7.4.2), exact strings.

Each message of the corpus gets into a mailbox three ways, and
FETCH n (BODYSTRUCTURE ENVELOPE BODY) must give the same exact response
each time:
  - SMTP: deliver parses it and caches ENVELOPE and BODYSTRUCTURE;
  - APPEND: imapd parses it and caches them;
  - the cache set NULL with psql: imapd parses the stored message when
    it answers.
The expected strings were written from the grammar of RFC 9051 7.5.2
(sizes and lines counted by hand) and compared with Dovecot 2.3.19's
answers for the same messages (APPENDed to a Dovecot on loopback).
Dovecot gives the same strings except where lib/mime decides otherwise
(lib/mime.h, "Decisions"):
  - body-fld-lines: a last line without LF counts (Dovecot counts LFs
    only: "See attached." is 1 line here, 0 there; the message/rfc822
    part of "rfc822_attached" 10 lines here, 9 there);
  - "Content-Type: text" (no subtype) is text/plain (RFC 2045 5.2;
    Dovecot says "text" ""); a broken parameter list keeps the valid
    "a" parameter (Dovecot: ("" ""));
  - a base64 message/rfc822 part is 24 octets here (the CRLF before the
    delimiter belongs to it, RFC 2046 5.1.1), 26 in Dovecot;
  - merged RFC 2231 parameters stay where their first segment was
    (Dovecot puts them last).
"""
import re
import smtplib
import socket

import pytest

from conftest import Instance, wait_for

T = 20
DOMAIN = "bs.test"
EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""


def crlf(s):
    return s.replace("\n", "\r\n").encode()


HDR = ("Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
       "From: Alice <alice@example.org>\n"
       "To: bob@example.net\n"
       "Message-ID: <{n}@example.org>\n")

MSGS = {}

MSGS["plain"] = crlf(HDR.format(n=1) + "Subject: plain\n\nhello\nworld\n")

MSGS["qp_latin1"] = crlf(
    HDR.format(n=2) + "Subject: =?ISO-8859-1?Q?caf=E9?= menu\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=ISO-8859-1; format=flowed\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\ncaf=E9\n")

MSGS["mixed_attachment"] = crlf(
    HDR.format(n=3) + "Subject: report\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="b1"\n'
    "\npreamble\n--b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\nSee attached.\n"
    "--b1\n"
    'Content-Type: application/pdf; name="report.pdf"\n'
    "Content-Transfer-Encoding: base64\n"
    'Content-Disposition: attachment; filename="report.pdf"\n'
    "\nJVBERi0xLjQK\n"
    "--b1--\nepilogue\n")

MSGS["alternative_in_mixed"] = crlf(
    HDR.format(n=4) + "Subject: alt\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n--outer\n"
    'Content-Type: multipart/alternative; boundary="inner"\n'
    "\n--inner\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\nHi\n"
    "--inner\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n<p>Hi</p>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: image/png\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-ID: <img1@example.org>\n"
    "Content-Description: a dot\n"
    "Content-Disposition: inline\n"
    "\niVBORw0KGgo=\n"
    "--outer--\n")

MSGS["rfc822_attached"] = crlf(
    HDR.format(n=5) + "Subject: Fwd: hi\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="fw"\n'
    "\n--fw\n"
    "Content-Type: text/plain\n"
    "\nForwarded.\n"
    "--fw\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Date: Sun, 31 Dec 2023 23:59:59 -0500\n"
    'From: "Carol Q." <carol@example.com>\n'
    "Subject: hi\n"
    "To: alice@example.org, Dave <dave@example.com>\n"
    "Cc: undisclosed-recipients:;\n"
    "In-Reply-To: <0@example.com>\n"
    "Message-ID: <inner@example.com>\n"
    "\nInner body\nline 2\n"
    "--fw--\n")

MSGS["rfc2231"] = crlf(
    HDR.format(n=6) + "Subject: rates\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="p"\n'
    "\n--p\n"
    "Content-Type: text/plain; charset*=us-ascii'en'us-ascii\n"
    "\nx\n"
    "--p\n"
    "Content-Type: text/csv; name*0*=utf-8''%E2%82%AC; name*1=\" rates.csv\"\n"
    "Content-Disposition: attachment;\n"
    " filename*0*=utf-8''%E2%82%AC%20;\n"
    " filename*1=rates.csv; size=12\n"
    "Content-Language: en, de\n"
    "Content-Location: http://example.org/rates.csv\n"
    "\na,b\n1,2\n\n"
    "--p--\n")

MSGS["encoded_words"] = crlf(
    "Date: Tue, 2 Jan 2024 08:00:00 +0100\n"
    "From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.de>\n"
    "Sender: list@example.de\n"
    "Reply-To: =?UTF-8?Q?J=C3=BCrgen_M=2E?= <r@example.de>\n"
    "To: \"A, B\" <ab@example.net>, c@example.net\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?w7xiZXI=?= \"all\"\n"
    "Message-ID: <7@example.de>\n"
    "\nbody\n")

MSGS["missing_boundary"] = crlf(
    HDR.format(n=8) + "Subject: no boundary\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed\n"
    "\n--x\nContent-Type: text/plain\n\nlost\n--x--\n")

MSGS["unterminated_multipart"] = crlf(
    HDR.format(n=9) + "Subject: cut\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="cut"\n'
    "\n--cut\n"
    "Content-Type: text/plain\n"
    "\nfirst\n"
    "--cut\n"
    "Content-Type: text/plain\n"
    "\nsecond, never closed\n")

MSGS["bad_encoded_words"] = crlf(
    HDR.format(n=10) +
    "Subject: =?UTF-8?Q?broken =?bogus?X?abc?= =?UTF-8?B?####?=\n"
    "Cc: =?UTF-8?Q?unclosed <cc@example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=\"=?UTF-8?Q?x?=\"\n"
    "\nx\n")

MSGS["eight_bit_headers"] = (
    "Date: Wed, 3 Jan 2024 12:00:00 +0000\r\n"
    "From: Jürgen <j@example.de>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Grüße aus Köln\r\n"
    "Message-ID: <11@example.de>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"8\"\r\n"
    "\r\n--8\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\nGrüße\r\n"
    "--8\r\n"
    "Content-Type: application/octet-stream; name=\"Maße.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"Maße.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\nAAAA\r\n"
    "--8--\r\n").encode()

MSGS["bad_content_type"] = crlf(
    HDR.format(n=12) + "Subject: odd types\nMIME-Version: 1.0\n"
    "Content-Type: multipart/digest; boundary=d\n"
    "\n--d\n"
    "\nDate: Thu, 4 Jan 2024 00:00:00 +0000\nSubject: in digest\n"
    "\ndigest body\n"
    "--d\n"
    "Content-Type: text\n"
    "Content-Transfer-Encoding: x-uuencode\n"
    "\nno subtype\n"
    "--d\n"
    "Content-Type: application/x-thing; ;;=; a=\"unterminated\n"
    "Content-Transfer-Encoding: \"base64\n"
    "\nzz\n"
    "--d--\n")

MSGS["nested_rfc822_base64"] = crlf(
    HDR.format(n=13) + "Subject: encoded message\nMIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="e"\n'
    "\n--e\n"
    "Content-Type: message/rfc822\n"
    "Content-Transfer-Encoding: base64\n"
    "\nU3ViamVjdDogeA0KDQp5DQo=\n"
    "--e--\n")

MSGS["header_only"] = crlf(HDR.format(n=14) + "Subject: no body\n")


EXPECTED = {
    'plain': (
        # BODYSTRUCTURE
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2 '
        'NIL NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "plain" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<1@example.org>")',
        # BODY
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2)'),
    'qp_latin1': (
        # BODYSTRUCTURE
        '("text" "plain" ("charset" "ISO-8859-1" "format" "flowed") '
        'NIL NIL "quoted-printable" 8 1 NIL NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "=?ISO-8859-1?Q?caf=E9?= '
        'menu" (("Alice" NIL "alice" "example.org")) (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '((NIL NIL "bob" "example.net")) NIL NIL NIL "<2@example.org>")',
        # BODY
        '("text" "plain" ("charset" "ISO-8859-1" "format" "flowed") '
        'NIL NIL "quoted-printable" 8 1)'),
    'mixed_attachment': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 13 1 NIL '
        'NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL '
        'NIL "base64" 12 NIL ("attachment" ("filename" "report.pdf")) '
        'NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "report" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<3@example.org>")',
        # BODY
        '(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 13 '
        '1)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" '
        '12) "mixed")'),
    'alternative_in_mixed': (
        # BODYSTRUCTURE
        '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 1 '
        'NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL '
        '"8bit" 9 1 NIL NIL NIL NIL) "alternative" ("boundary" '
        '"inner") NIL NIL NIL)("image" "png" NIL "<img1@example.org>" '
        '"a dot" "base64" 12 NIL ("inline" NIL) NIL NIL) "mixed" '
        '("boundary" "outer") NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "alt" (("Alice" NIL "alice" '
        '"example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<4@example.org>")',
        # BODY
        '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 '
        '1)("text" "html" ("charset" "utf-8") NIL NIL "8bit" 9 1) '
        '"alternative")("image" "png" NIL "<img1@example.org>" "a dot" '
        '"base64" 12) "mixed")'),
    'rfc822_attached': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 '
        'NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 251 '
        '("Sun, 31 Dec 2023 23:59:59 -0500" "hi" (("Carol Q." NIL '
        '"carol" "example.com")) (("Carol Q." NIL "carol" '
        '"example.com")) (("Carol Q." NIL "carol" "example.com")) '
        '((NIL NIL "alice" "example.org")("Dave" NIL "dave" '
        '"example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL '
        'NIL NIL NIL)) NIL "<0@example.com>" "<inner@example.com>") '
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 18 2 '
        'NIL NIL NIL NIL) 10 NIL NIL NIL NIL) "mixed" ("boundary" '
        '"fw") NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "Fwd: hi" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<5@example.org>")',
        # BODY
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 '
        '1)("message" "rfc822" NIL NIL NIL "7bit" 251 ("Sun, 31 Dec '
        '2023 23:59:59 -0500" "hi" (("Carol Q." NIL "carol" '
        '"example.com")) (("Carol Q." NIL "carol" "example.com")) '
        '(("Carol Q." NIL "carol" "example.com")) ((NIL NIL "alice" '
        '"example.org")("Dave" NIL "dave" "example.com")) ((NIL NIL '
        '"undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL '
        '"<0@example.com>" "<inner@example.com>") ("text" "plain" '
        '("charset" "us-ascii") NIL NIL "7bit" 18 2) 10) "mixed")'),
    'rfc2231': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset*" "us-ascii\'en\'us-ascii" "charset" '
        '"us-ascii") NIL NIL "7bit" 1 1 NIL NIL NIL NIL)("text" "csv" '
        '("name*" "utf-8\'\'%E2%82%AC rates.csv" "charset" "us-ascii") '
        'NIL NIL "7bit" 10 2 NIL ("attachment" ("filename*" '
        '"utf-8\'\'%E2%82%AC%20rates.csv" "size" "12")) ("en" "de") '
        '"http://example.org/rates.csv") "mixed" ("boundary" "p") NIL '
        'NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "rates" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<6@example.org>")',
        # BODY
        '(("text" "plain" ("charset*" "us-ascii\'en\'us-ascii" "charset" '
        '"us-ascii") NIL NIL "7bit" 1 1)("text" "csv" ("name*" '
        '"utf-8\'\'%E2%82%AC rates.csv" "charset" "us-ascii") NIL NIL '
        '"7bit" 10 2) "mixed")'),
    'encoded_words': (
        # BODYSTRUCTURE
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL '
        'NIL NIL NIL)',
        # ENVELOPE
        '("Tue, 2 Jan 2024 08:00:00 +0100" '
        '"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?w7xiZXI=?= \\"all\\"" '
        '(("=?UTF-8?B?SsO8cmdlbg==?=" NIL "juergen" "example.de")) '
        '((NIL NIL "list" "example.de")) '
        '(("=?UTF-8?Q?J=C3=BCrgen_M=2E?=" NIL "r" "example.de")) (("A, '
        'B" NIL "ab" "example.net")(NIL NIL "c" "example.net")) NIL '
        'NIL NIL "<7@example.de>")',
        # BODY
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)'),
    'missing_boundary': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 '
        'NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "no boundary" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<8@example.org>")',
        # BODY
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) '
        '"mixed")'),
    'unterminated_multipart': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 '
        'NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL '
        'NIL "7bit" 22 1 NIL NIL NIL NIL) "mixed" ("boundary" "cut") '
        'NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "cut" (("Alice" NIL "alice" '
        '"example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<9@example.org>")',
        # BODY
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 '
        '1)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 22 1) '
        '"mixed")'),
    'bad_encoded_words': (
        # BODYSTRUCTURE
        '("text" "plain" ("charset" "=?UTF-8?Q?x?=") NIL NIL "7bit" 3 '
        '1 NIL NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "=?UTF-8?Q?broken '
        '=?bogus?X?abc?= =?UTF-8?B?####?=" (("Alice" NIL "alice" '
        '"example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) (("=?UTF-8?Q?unclosed" NIL "cc" '
        '"example.net")) NIL NIL "<10@example.org>")',
        # BODY
        '("text" "plain" ("charset" "=?UTF-8?Q?x?=") NIL NIL "7bit" 3 '
        '1)'),
    'eight_bit_headers': (
        # BODYSTRUCTURE
        '(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 7 1 NIL '
        'NIL NIL NIL)("application" "octet-stream" ("name" '
        '{9}\r\nMaße.bin) NIL NIL "base64" 4 NIL ("attachment" '
        '("filename" {9}\r\nMaße.bin)) NIL NIL) "mixed" ("boundary" "8") '
        'NIL NIL NIL)',
        # ENVELOPE
        '("Wed, 3 Jan 2024 12:00:00 +0000" {17}\r\nGrüße aus Köln '
        '(({7}\r\nJürgen NIL "j" "example.de")) (({7}\r\nJürgen NIL "j" '
        '"example.de")) (({7}\r\nJürgen NIL "j" "example.de")) ((NIL NIL '
        '"bob" "example.net")) NIL NIL NIL "<11@example.de>")',
        # BODY
        '(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 7 '
        '1)("application" "octet-stream" ("name" {9}\r\nMaße.bin) NIL '
        'NIL "base64" 4) "mixed")'),
    'bad_content_type': (
        # BODYSTRUCTURE
        '(("message" "rfc822" NIL NIL NIL "7bit" 71 ("Thu, 4 Jan 2024 '
        '00:00:00 +0000" "in digest" NIL NIL NIL NIL NIL NIL NIL NIL) '
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 '
        'NIL NIL NIL NIL) 4 NIL NIL NIL NIL)("text" "plain" ("charset" '
        '"us-ascii") NIL NIL "x-uuencode" 10 1 NIL NIL NIL '
        'NIL)("application" "x-thing" ("a" "unterminated") NIL NIL '
        '"7bit" 2 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL '
        'NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "odd types" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<12@example.org>")',
        # BODY
        '(("message" "rfc822" NIL NIL NIL "7bit" 71 ("Thu, 4 Jan 2024 '
        '00:00:00 +0000" "in digest" NIL NIL NIL NIL NIL NIL NIL NIL) '
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1) '
        '4)("text" "plain" ("charset" "us-ascii") NIL NIL "x-uuencode" '
        '10 1)("application" "x-thing" ("a" "unterminated") NIL NIL '
        '"7bit" 2) "digest")'),
    'nested_rfc822_base64': (
        # BODYSTRUCTURE
        '(("message" "rfc822" NIL NIL NIL "base64" 24 (NIL NIL NIL NIL '
        'NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" '
        '"us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL '
        'NIL) "mixed" ("boundary" "e") NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "encoded message" (("Alice" '
        'NIL "alice" "example.org")) (("Alice" NIL "alice" '
        '"example.org")) (("Alice" NIL "alice" "example.org")) ((NIL '
        'NIL "bob" "example.net")) NIL NIL NIL "<13@example.org>")',
        # BODY
        '(("message" "rfc822" NIL NIL NIL "base64" 24 (NIL NIL NIL NIL '
        'NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" '
        '"us-ascii") NIL NIL "7bit" 0 0) 1) "mixed")'),
    'header_only': (
        # BODYSTRUCTURE
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL '
        'NIL NIL NIL)',
        # ENVELOPE
        '("Mon, 1 Jan 2024 10:00:00 +0000" "no body" (("Alice" NIL '
        '"alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
        '(("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" '
        '"example.net")) NIL NIL NIL "<14@example.org>")',
        # BODY
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'),
}


class Imap:
    """A raw client: exact response bytes, literals included."""

    def __init__(self, port, user):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T)
        self.buf = b""
        self.n = 0
        self.response(b"*")
        _, t = self.cmd(b"LOGIN %s@%s pw" % (user.encode(), DOMAIN.encode()))
        assert t.startswith(b"OK"), t

    def read(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError(self.buf)
        self.buf += d

    def response(self, start):
        """One response line from the buffer, its literals inside."""
        i = 0
        while True:
            while self.buf.find(b"\r\n", i) < 0:
                self.read()
            k = self.buf.index(b"\r\n", i)
            m = re.search(rb"\{(\d+)\}$", self.buf[i:k])
            if not m:
                break
            i = k + 2 + int(m.group(1))
            while len(self.buf) < i:
                self.read()
        out, self.buf = self.buf[:k + 2], self.buf[k + 2:]
        assert out.startswith(start), out
        return out

    def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        untagged = []
        while True:
            r = self.response(b"")
            if r.startswith(tag + b" "):
                return untagged, r[len(tag) + 1:]
            untagged.append(r)

    def close(self):
        self.sock.close()


def count(inst, user):
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'") or 0)


def cached(inst, user):
    """How many of user's messages have both strings cached."""
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and m.envelope is not null "
        "and m.bodystructure is not null"))


@pytest.fixture(scope="module")
def site():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", DOMAIN, check=True)
        for u in ("smtp", "append"):
            inst.wharf("user", "add", f"{u}@{DOMAIN}", input="pw\n",
                       check=True)

        def ready():
            try:
                with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                                  timeout=3) as s:
                    s.ehlo("client.test")
                    s.mail("x@remote.example")
                    return s.rcpt(f"smtp@{DOMAIN}")[0] == 250
            except (OSError, smtplib.SMTPException):
                return False
        wait_for(ready, 60, "smtpd ready")
        yield inst
    finally:
        inst.cleanup()


def expected_response(seq, name):
    bs, env, body = (x.encode() for x in EXPECTED[name])
    return b"* %d FETCH (BODYSTRUCTURE %s ENVELOPE %s BODY %s)\r\n" % (
        seq, bs, env, body)


def check_all(inst, user):
    c = Imap(inst.ports["imap"], user)
    try:
        _, t = c.cmd(b"EXAMINE INBOX")
        assert t.startswith(b"OK"), t
        for seq, name in enumerate(MSGS, 1):
            u, t = c.cmd(b"FETCH %d (BODYSTRUCTURE ENVELOPE BODY)" % seq)
            assert t.startswith(b"OK"), (name, t)
            assert u == [expected_response(seq, name)], name
    finally:
        c.close()


def uncache(inst, user):
    inst.psql(
        "update messages m set envelope = NULL, bodystructure = NULL "
        "from mailboxes x, users u where x.id = m.mailbox_id and "
        f"u.id = x.user_id and u.localpart = '{user}'")
    assert cached(inst, user) == 0


def test_corpus_is_large_enough():
    assert len(MSGS) >= 12 and set(MSGS) == set(EXPECTED)


def test_through_smtp(site):
    """deliver's cache, then imapd's parse of the stored message."""
    with smtplib.SMTP("127.0.0.1", site.ports["smtp"], timeout=T) as s:
        s.ehlo("client.test")
        for i, msg in enumerate(MSGS.values(), 1):
            opts = ["BODY=8BITMIME"] if max(msg) >= 0x80 else []
            s.sendmail("x@remote.example", [f"smtp@{DOMAIN}"], msg,
                       mail_options=opts)
            wait_for(lambda: count(site, "smtp") >= i, 30, "delivery")
    assert cached(site, "smtp") == len(MSGS)
    check_all(site, "smtp")
    uncache(site, "smtp")
    check_all(site, "smtp")


def test_through_append(site):
    """APPEND's cache, then imapd's parse of the stored message."""
    c = Imap(site.ports["imap"], "append")
    try:
        for msg in MSGS.values():
            _, t = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)
            assert t.startswith(b"OK [APPENDUID "), t
    finally:
        c.close()
    assert cached(site, "append") == len(MSGS)
    check_all(site, "append")
    uncache(site, "append")
    check_all(site, "append")
