# SPDX-License-Identifier: MIT
# Build, test and install gossip: gossip-seed, gossip-peer and gossipctl.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=
SYSTEMD_VAR = $(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null)
SYSTEMDUNITDIR ?= $(or $(call SYSTEMD_VAR,systemdsystemunitdir),/lib/systemd/system)
SYSUSERSDIR ?= $(or $(call SYSTEMD_VAR,sysusersdir),/usr/lib/sysusers.d)
TMPFILESDIR ?= $(or $(call SYSTEMD_VAR,tmpfilesdir),/usr/lib/tmpfiles.d)
CATALOGDIR ?= $(or $(call SYSTEMD_VAR,catalogdir),/usr/lib/systemd/catalog)

CC ?= cc
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3
PKGS := libsystemd libconfig libcrypto

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	  -Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE
CPPFLAGS += -Isrc/common -DSYSCONFDIR='"$(SYSCONFDIR)"'
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD := build/sanitize
else
BUILD := build/release
endif

COMMON_SRCS := $(wildcard src/common/*.c)
COMMON_OBJS := $(COMMON_SRCS:src/%.c=$(BUILD)/%.o)
SEED_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/seed/*.c))
PEER_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/peer/*.c))
CTL_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/ctl/*.c))
LIB := $(BUILD)/libgossip.a
PROGS := $(BUILD)/gossip-seed $(BUILD)/gossip-peer $(BUILD)/gossipctl

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit integration units-verify print-unitdir demo install clean format

UNIT_TEMPLATES := $(wildcard systemd/*.service.in)
UNITS := $(UNIT_TEMPLATES:systemd/%.in=build/units/%) \
	$(patsubst systemd/%,build/units/%,$(wildcard systemd/*.socket systemd/*.target))

all: $(PROGS) $(UNITS)
	@ln -sfn $(notdir $(BUILD)) build/current

# Service units name the installed binaries and config directory.
build/units/%.service: systemd/%.service.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@
build/units/%: systemd/%
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/%.o: src/%.c $(wildcard src/common/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/gossip-seed: $(SEED_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/gossip-peer: $(PEER_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/gossipctl: $(CTL_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# Unit tests may #include the module's .c to reach static functions.
$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(wildcard src/common/*.h src/common/*.c tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(CFLAGS) \
		-Wno-missing-prototypes -o $@ $< $(LIB) $(LDFLAGS) $(PKG_LIBS) \
		$(shell $(PKG_CONFIG) --libs cmocka) -lm

# Installs the Debian build and test dependencies that are missing.
DEPS := build-essential pkg-config systemd libsystemd-dev libconfig-dev libssl-dev \
	libcmocka-dev python3 python3-pytest
deps:
	@missing=""; for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then echo "make deps: run as root to install:$$missing" >&2; exit 1; fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all
	GOSSIP_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/integration

# systemd-analyze verify on unit instances, with ExecStart pointing at this build.
# A unit with an unknown key must fail, or the check proves nothing.
VERIFY := build/verify
units-verify: all
	@rm -rf $(VERIFY) && mkdir -p $(VERIFY)
	@for t in $(UNIT_TEMPLATES); do \
		sed -e 's|@SBINDIR@|$(abspath $(BUILD))|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			$$t > $(VERIFY)/$$(basename $$t .in); done
	@cp systemd/*.socket systemd/*.target $(VERIFY)/
	@cd $(VERIFY) && for u in gossip-seed@ gossip-peer@; do for k in service socket; do \
		ln -sf $$u.$$k $${u}5000.$$k; done; done
	systemd-analyze verify --man=no $(VERIFY)/gossip-seed@5000.service \
		$(VERIFY)/gossip-seed@5000.socket $(VERIFY)/gossip-peer@5000.service \
		$(VERIFY)/gossip-peer@5000.socket $(VERIFY)/gossip.target
	@sed 's/^Type=notify/&\nNoSuchSetting=1/' $(VERIFY)/gossip-peer@.service \
		> $(VERIFY)/bad@.service && ln -sf bad@.service $(VERIFY)/bad@1.service
	@if systemd-analyze verify --man=no $(VERIFY)/bad@1.service >/dev/null 2>&1; then \
		echo "units-verify: a unit with an unknown key passed verification" >&2; exit 1; fi
	@echo "units-verify: all units verified"

print-unitdir:
	@echo $(SYSTEMDUNITDIR)

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) units-verify
	$(MAKE) integration

# A local network: 3 seeds and 5 peers, one message broadcast and seen everywhere.
demo: deps
	$(MAKE) all
	GOSSIP_BUILD=$(BUILD) tests/demo/run

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/gossip-seed $(BUILD)/gossip-peer $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/gossipctl $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/gossip
	install -m 0644 etc/gossip/gossip.conf etc/gossip/seeds.txt $(DESTDIR)$(SYSCONFDIR)/gossip/
	install -d $(DESTDIR)$(MANDIR)/man7
	install -m 0644 man/gossip.7 $(DESTDIR)$(MANDIR)/man7/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(CATALOGDIR)
	install -m 0644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 systemd/gossip.sysusers $(DESTDIR)$(SYSUSERSDIR)/gossip.conf
	install -m 0644 systemd/gossip.tmpfiles $(DESTDIR)$(TMPFILESDIR)/gossip.conf
	install -m 0644 systemd/gossip.catalog $(DESTDIR)$(CATALOGDIR)/gossip.catalog

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/unit/*.c)

clean:
	rm -rf build
