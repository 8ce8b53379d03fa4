#!/usr/bin/python3
"""Check that a file is a well-formed delivery status notification.

    dsn_check.py [--json] FILE...

A DSN is a multipart/report (RFC 6522) with report-type delivery-status
(RFC 3464) or global-delivery-status (RFC 6533).  Each FILE must be one,
as Python's email package (policy=email.policy.default) reads it and as a
strict reading of the raw octets sees it:

  - CRLF line ends only (no bare CR or LF), no NUL, lines <= 998 octets;
  - no parser defects (in the copy of the original they are the
    original's); From, To, Subject, Date (parsable), Message-ID,
    Auto-Submitted and MIME-Version present;
  - two or three parts delimited by the boundary, which occurs nowhere
    else: text/plain, message/[global-]delivery-status, and then
    message/rfc822, message/global, text/rfc822-headers or
    message/global-headers;
  - the delivery-status part: a per-message group with Reporting-MTA,
    then one group per recipient with Final-Recipient, Action and Status
    (RFC 3463 syntax); the dates parse; Original-Envelope-Id,
    Original-Recipient, Remote-MTA, Diagnostic-Code have "type;" forms
    where RFC 3464 wants them;
  - 8-bit octets only under Content-Transfer-Encoding: 8bit.

Exit status 0 when every file passes; otherwise each failure is printed
and the status is 1.  With --json a summary of each file is printed (one
JSON object per line), for the integration tests; they may also import
this file and call check(data), which returns that summary or raises
DsnError.
"""
import email
import email.parser
import email.policy
import email.utils
import json
import re
import sys

POLICY = email.policy.default
STATUS_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
TYPED_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+;")
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
PART3_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers",
               "message/global-headers")


class DsnError(Exception):
    pass


def need(cond, what):
    if not cond:
        raise DsnError(what)


def check_lines(data):
    need(b"\0" not in data, "NUL octet")
    for n, line in enumerate(data.split(b"\r\n")):
        need(b"\n" not in line, f"bare LF in line {n + 1}")
        need(b"\r" not in line, f"bare CR in line {n + 1}")
        need(len(line) <= 998, f"line {n + 1} is {len(line)} octets")
    need(data.endswith(b"\r\n"), "no CRLF at the end")


def check_date(value, what):
    try:
        email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError) as e:
        raise DsnError(f"{what}: bad date {value!r}: {e}")


def unfold(raw):
    """Header block (bytes) -> list of (name, value str), unfolded."""
    fields = []
    for line in raw.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            need(fields, "continuation line first")
            name, value = fields[-1]
            fields[-1] = (name, value + line.decode("utf-8"))
        elif line:
            name, sep, value = line.partition(b":")
            need(sep and re.fullmatch(rb"[!-9;-~]+", name),
                 f"not a header field: {line[:60]!r}")
            fields.append((name.decode("ascii"),
                           value.decode("utf-8").strip()))
    return fields


def split_parts(data, boundary):
    """The raw parts (header bytes, content bytes) between delimiters."""
    bnd = boundary.encode("ascii")
    _, sep, body = data.partition(b"\r\n\r\n")
    need(sep, "no empty line after the header")
    pieces = body.split(b"\r\n--" + bnd)
    need(len(pieces) >= 3, "fewer than two delimiters")
    need(pieces[-1] == b"--\r\n", "no close delimiter at the end")
    need(data.count(bnd) == len(pieces), "the boundary occurs elsewhere")
    parts = []
    for p in pieces[1:-1]:
        need(p.startswith(b"\r\n"), "text after a delimiter")
        hdr, sep, content = p[2:].partition(b"\r\n\r\n")
        need(sep, "a part without an empty line after its header")
        parts.append((hdr, content))
    return parts


def check_8bit(hdr_fields, content, what):
    if any(b >= 0x80 for b in content):
        cte = dict((k.lower(), v) for k, v in hdr_fields).get(
            "content-transfer-encoding", "7bit")
        need(cte.lower() == "8bit", f"{what}: 8-bit octets under {cte}")


def check_groups(content):
    need(content.endswith(b"\r\n"), "delivery-status: no final CRLF")
    blocks = [b for b in content[:-2].split(b"\r\n\r\n")]
    need(len(blocks) >= 2, "delivery-status: no recipient group")
    groups = [dict((k.lower(), v) for k, v in unfold(b)) for b in blocks]
    msg = groups[0]
    need(re.match(r"^dns;\s*\S+$", msg.get("reporting-mta", "")),
         "Reporting-MTA missing or not dns;")
    if "arrival-date" in msg:
        check_date(msg["arrival-date"], "Arrival-Date")
    rcpts = []
    for g in groups[1:]:
        need(TYPED_RE.match(g.get("final-recipient", "")),
             "Final-Recipient missing or untyped")
        need(g.get("action") in ACTIONS, f"Action {g.get('action')!r}")
        need(STATUS_RE.match(g.get("status", "")),
             f"Status {g.get('status')!r}")
        for f in ("original-recipient", "remote-mta", "diagnostic-code"):
            need(f not in g or TYPED_RE.match(g[f]), f"{f} untyped")
        for f in ("last-attempt-date", "will-retry-until"):
            if f in g:
                check_date(g[f], f)
        rcpts.append(g)
    return msg, rcpts


def check_python(data):
    """What Python's email package makes of it."""
    msg = email.message_from_bytes(data, policy=POLICY)
    need(not msg.defects, f"defects: {msg.defects}")
    need(msg.get_content_type() == "multipart/report",
         f"Content-Type {msg.get_content_type()}")
    rtype = msg.get_param("report-type")
    need(rtype in ("delivery-status", "global-delivery-status"),
         f"report-type {rtype!r}")
    for f in ("From", "To", "Subject", "Date", "Message-ID",
              "Auto-Submitted", "MIME-Version"):
        need(msg[f] is not None, f"no {f}")
    check_date(msg["Date"], "Date")
    need(str(msg["Auto-Submitted"]) == "auto-replied", "Auto-Submitted")
    need(msg.get_boundary() is not None, "no boundary")
    parts = msg.get_payload()
    need(isinstance(parts, list) and len(parts) in (2, 3),
         "not 2 or 3 parts")
    # The copy of the original may be broken: only our parts count.
    for p in parts:
        need(not p.defects, f"defects in {p.get_content_type()}: "
             f"{p.defects}")
    need(parts[0].get_content_type() == "text/plain", "part 1 not text")
    parts[0].get_content()
    need(parts[1].get_content_type() == "message/" + rtype,
         f"part 2 is {parts[1].get_content_type()}")
    if rtype == "delivery-status":
        blocks = parts[1].get_payload()
        need(isinstance(blocks, list) and len(blocks) >= 2 and
             blocks[0]["Reporting-MTA"] is not None,
             "Python sees no delivery-status groups")
    if len(parts) == 3:
        t = parts[2].get_content_type()
        need(t in PART3_TYPES, f"part 3 is {t}")
        if t in ("message/rfc822", "message/global"):
            inner = parts[2].get_payload(0)
            need(isinstance(inner, email.message.Message),
                 "part 3 not a message")
    return msg, rtype


def check(data):
    """Check one DSN (bytes); its summary, or DsnError."""
    check_lines(data)
    msg, rtype = check_python(data)
    parts = split_parts(data, msg.get_boundary())
    need(len(parts) == len(msg.get_payload()), "part count differs")
    top = unfold(data.partition(b"\r\n\r\n")[0])
    check_8bit(top, data.partition(b"\r\n\r\n")[2], "top level")
    for i, (hdr, content) in enumerate(parts):
        check_8bit(unfold(hdr), content, f"part {i + 1}")
    per_msg, rcpts = check_groups(parts[1][1])
    summary = {
        "report_type": rtype,
        "subject": str(msg["Subject"]),
        "to": str(msg["To"]),
        "from": str(msg["From"]),
        "message_id": str(msg["Message-ID"]),
        "per_message": per_msg,
        "recipients": rcpts,
        "actions": [g["action"] for g in rcpts],
        "part3": None,
    }
    if len(parts) == 3:
        hdr, content = parts[2]
        summary["part3"] = dict((k.lower(), v) for k, v in unfold(hdr))[
            "content-type"]
        if summary["part3"] in ("text/rfc822-headers",
                                "message/global-headers"):
            inner = email.parser.BytesHeaderParser(policy=POLICY) \
                .parsebytes(content)
            summary["original_subject"] = inner["Subject"]
        summary["part3_size"] = len(content)
    return summary


def main(argv):
    as_json = "--json" in argv
    files = [a for a in argv if a != "--json"]
    if not files:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    bad = 0
    for name in files:
        try:
            with open(name, "rb") as f:
                summary = check(f.read())
        except (DsnError, OSError, UnicodeDecodeError) as e:
            print(f"{name}: {e}", file=sys.stderr)
            bad += 1
            continue
        if as_json:
            summary["file"] = name
            print(json.dumps(summary, default=str))
        else:
            print(f"{name}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
