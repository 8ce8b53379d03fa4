# Wharf — top-level GNU Makefile.  See README.md.
#
#   make            every program into build/
#   make check      deps, style gate, unit tests (plain + ASan/UBSan),
#                   integration tests (plain + ASan/UBSan), fuzz smoke
#   make run        deps, build, start the suite in the foreground
#   make install    DESTDIR/PREFIX aware FHS install
#
# The one list of Debian packages Wharf needs to build and test:
DEB_PACKAGES = build-essential pkgconf clang libclang-rt-14-dev \
	libssl-dev libpq-dev libbsd-dev libcmocka-dev libargon2-dev libcrypt-dev \
	libunbound-dev libsodium-dev \
	postgresql-15 openssl python3 python3-pytest python3-argon2 \
	procps psmisc passwd util-linux swaks dovecot-core whois isync mutt \
	neomutt curl nodejs postfix
# Only for `make bench`: the reference Dovecot it measures Wharf against
# (with the Postfix above; started by bench/run.py on loopback, never as
# services).
BENCH_PACKAGES = dovecot-imapd dovecot-lmtpd
BENCH_ARGS ?=

PREFIX     ?= /usr
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
DESTDIR    ?=
LIBEXECDIR  = $(PREFIX)/lib/wharf
SBINDIR     = $(PREFIX)/sbin
MANDIR      = $(PREFIX)/share/man

BUILD ?= build
CC    ?= cc
ifeq ($(CC),cc)
CC = gcc
endif
PKG_MODULES = openssl libpq libbsd libargon2 libsodium libxcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_MODULES) 2>/dev/null)
# libunbound's .pc requires libevent's, which Debian's -dev does not pull.
PKG_LIBS   := $(shell pkg-config --libs $(PKG_MODULES) 2>/dev/null) -lunbound
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	  -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN_CFLAGS) \
	-Ilib -I$(BUILD)/gen $(PKG_CFLAGS) \
	-DWHARF_LIBEXECDIR='"$(LIBEXECDIR)"' \
	-DWHARF_SYSCONFDIR='"$(SYSCONFDIR)/wharf"'
ALL_LDFLAGS = $(LDFLAGS) $(SAN_CFLAGS)

ifeq ($(SAN),1)
SAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
endif

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBWHARF := $(BUILD)/libwharf.a

# A program is a top-level folder with a main.c.
PROGRAMS := $(sort $(patsubst %/main.c,%,$(wildcard */main.c)))
PROG_BIN := $(PROGRAMS:%=$(BUILD)/%)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

SQL_FILES := $(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql))
GEN_MIGRATIONS := $(BUILD)/gen/migrations.c

.PHONY: all check run install clean deps unit unit-bin integ integ-both \
	fuzz-smoke style \
	asan check-build bench
.DEFAULT_GOAL := all
.SECONDEXPANSION:

all: $(PROG_BIN) $(UNIT_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBWHARF): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(GEN_MIGRATIONS): $(SQL_FILES) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	sh tools/embed-sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/migrations.o: $(GEN_MIGRATIONS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Each program: every .c in its folder (+ the embedded migrations).
prog_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c))
$(PROG_BIN): $(BUILD)/%: $$(call prog_objs,$$*) \
		$(BUILD)/obj/gen/migrations.o $(LIBWHARF)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBWHARF) $(PKG_LIBS)

$(UNIT_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBWHARF) \
		$(BUILD)/obj/gen/migrations.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/obj/gen/migrations.o \
		$(LIBWHARF) $(PKG_LIBS) $(CMOCKA_LIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

deps:
	@sh tools/deps.sh $(DEB_PACKAGES)

style:
	@sh tools/style-check.sh

unit-bin: $(UNIT_BIN)

unit: $(UNIT_BIN)
	@sh tools/run-unit.sh $(BUILD) $(UNIT_BIN)

# Real IMAP clients from the npm registry (imapflow), as the lock file says.
NODE_DEPS = tests/integ/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/integ/node/package-lock.json
	cd tests/integ/node && npm ci --no-audit --no-fund --loglevel=error

PYTEST = timeout 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider
WHARF_TEST_SLOT ?= 0
integ: $(PROG_BIN) $(NODE_DEPS)
	cd $(CURDIR)/tests/integ && WHARF_BUILD=$(CURDIR)/$(BUILD) \
		WHARF_TEST_SLOT=$(WHARF_TEST_SLOT) $(PYTEST) .

# The plain and the sanitizer suites at once (both mostly wait on
# sockets and fsync), in slots 0 and 1: tests/integ/conftest.py gives
# each its own ports and loopback addresses.  Logs are shown at the end.
ASAN_MAKE = $(MAKE) BUILD=build/asan SAN=1 CFLAGS='-O1 -g'
integ-both: $(NODE_DEPS)
	@mkdir -p $(BUILD); rc=0; \
	$(MAKE) integ WHARF_TEST_SLOT=0 >$(BUILD)/integ.log 2>&1 & p1=$$!; \
	$(ASAN_MAKE) integ WHARF_TEST_SLOT=1 >$(BUILD)/integ-asan.log 2>&1 & \
	p2=$$!; wait $$p1 || rc=1; wait $$p2 || rc=1; \
	echo "== integration tests"; cat $(BUILD)/integ.log; \
	echo "== integration tests under ASan+UBSan"; \
	cat $(BUILD)/integ-asan.log; exit $$rc

asan:
	$(MAKE) BUILD=build/asan SAN=1 CFLAGS='-O1 -g' all

fuzz-smoke:
	@sh tools/fuzz.sh smoke $(FUZZ_SRC)

NPROC := $(shell nproc 2>/dev/null || echo 1)

check: deps
	$(MAKE) style
	$(MAKE) -j$(NPROC) all unit-bin
	$(MAKE) unit
	$(MAKE) -j$(NPROC) BUILD=build/asan SAN=1 CFLAGS='-O1 -g' all unit-bin
	$(MAKE) BUILD=build/asan SAN=1 CFLAGS='-O1 -g' unit
	$(MAKE) integ-both
	$(MAKE) fuzz-smoke
	@echo "make check: all passed"

run: deps all
	@sh tools/run.sh $(CURDIR)/$(BUILD)

# make bench: Wharf side by side with Postfix + Dovecot (bench/README.md).
# BENCH_ARGS=--quick for a short run, --only smtp,imap for a subset.
IMAPLOAD_SRC = bench/imapload.c bench/imapload_msg.c
$(BUILD)/imapload: $(IMAPLOAD_SRC) bench/imapload.h $(LIBWHARF)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(IMAPLOAD_SRC) \
		$(LIBWHARF) $(PKG_LIBS)

bench:
	@sh tools/deps.sh $(DEB_PACKAGES) $(BENCH_PACKAGES)
	$(MAKE) all
	$(MAKE) $(BUILD)/imapload
	/usr/bin/python3 bench/run.py --build $(CURDIR)/$(BUILD) $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(SYSCONFDIR)/wharf $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/wharf $(DESTDIR)$(SBINDIR)/wharf
	ln -sf wharf $(DESTDIR)$(SBINDIR)/mailq
	for p in $(filter-out wharf,$(PROGRAMS)); do \
		install -m 0755 $(BUILD)/$$p $(DESTDIR)$(LIBEXECDIR)/$$p; done
	test -e $(DESTDIR)$(SYSCONFDIR)/wharf/main.conf || \
		install -m 0644 etc/main.conf $(DESTDIR)$(SYSCONFDIR)/wharf/main.conf
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/

clean:
	rm -rf build
