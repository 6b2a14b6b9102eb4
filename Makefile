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
# libcrypto provides only SHA-256 here. Loading the shared library costs each daemon
# about 1.4 MB of resident pages (its relocations and symbol tables), more than the
# rest of an idle peer's private memory, so its SHA-256 objects (about 30 KB) are taken
# from libcrypto.a when that is installed (libssl-dev ships it).
# CRYPTO_LINK=dynamic links the shared library instead, CRYPTO_LINK=static insists on
# the archive. Evaluated when linking, after "make deps" may have installed libssl-dev.
CRYPTO_LINK ?= auto
ifeq ($(filter auto static dynamic,$(CRYPTO_LINK)),)
$(error CRYPTO_LINK must be auto, static or dynamic, not '$(CRYPTO_LINK)')
endif
CRYPTO_ARCHIVE = $(wildcard $(shell $(PKG_CONFIG) --variable=libdir libcrypto)/libcrypto.a)
CRYPTO_LIBS_static = -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs-only-l libcrypto) -Wl,-Bdynamic
CRYPTO_LIBS_dynamic = $(shell $(PKG_CONFIG) --libs libcrypto)
CRYPTO_LIBS_auto = $(if $(CRYPTO_ARCHIVE),$(CRYPTO_LIBS_static),$(CRYPTO_LIBS_dynamic))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs libsystemd libconfig) $(CRYPTO_LIBS_$(CRYPTO_LINK))

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

.PHONY: all build-deps deps check unit integration units-verify print-unitdir demo install clean format

UNIT_TEMPLATES := $(wildcard systemd/*.service.in)
UNITS := $(UNIT_TEMPLATES:systemd/%.in=build/units/%) \
	$(patsubst systemd/%,build/units/%,$(wildcard systemd/*.socket systemd/*.target))

all: $(PROGS) $(UNITS)
	@ln -sfn $(notdir $(BUILD)) build/current

# Service units name the installed binaries and config directory; the stamp changes with
# SBINDIR/SYSCONFDIR so "make install PREFIX=..." after a plain make regenerates them.
UNIT_VARS := build/units/.vars
.PHONY: FORCE
$(UNIT_VARS): FORCE
	@mkdir -p $(dir $@)
	@echo '$(SBINDIR) $(SYSCONFDIR)' | cmp -s - $@ 2>/dev/null || echo '$(SBINDIR) $(SYSCONFDIR)' > $@
build/units/%.service: systemd/%.service.in Makefile $(UNIT_VARS)
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

# The programs are linked again when CRYPTO_LINK changes.
LINK_VARS := $(BUILD)/.link-vars
$(LINK_VARS): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CRYPTO_LINK)' | cmp -s - $@ 2>/dev/null || echo '$(CRYPTO_LINK)' > $@

$(BUILD)/gossip-seed: $(SEED_OBJS) $(LIB) $(LINK_VARS)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LINK_VARS),$^) $(PKG_LIBS) -lm
$(BUILD)/gossip-peer: $(PEER_OBJS) $(LIB) $(LINK_VARS)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LINK_VARS),$^) $(PKG_LIBS) -lm
$(BUILD)/gossipctl: $(CTL_OBJS) $(LIB) $(LINK_VARS)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LINK_VARS),$^) $(PKG_LIBS) -lm

# Unit tests may #include the module's .c to reach static functions.
$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(wildcard src/common/*.h src/common/*.c tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(CFLAGS) \
		-Wno-missing-prototypes -o $@ $< $(LIB) $(LDFLAGS) $(PKG_LIBS) \
		$(shell $(PKG_CONFIG) --libs cmocka) -lm

# Installs the Debian packages that are missing: BUILD_DEPS to build and run,
# TEST_DEPS also for make check (system and package tests, man page lint).
BUILD_DEPS := build-essential pkg-config systemd libsystemd-dev libconfig-dev libssl-dev
TEST_DEPS := $(BUILD_DEPS) libcmocka-dev python3 python3-pytest mandoc systemd-container \
	util-linux iproute2 debhelper dpkg-dev fakeroot lintian rpm rpmlint elfutils
define install_missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then echo "make: run as root to install:$$missing" >&2; exit 1; fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef
build-deps:
	$(call install_missing,$(BUILD_DEPS))
deps:
	$(call install_missing,$(TEST_DEPS))

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
	@out=$$(systemd-analyze verify --man=no $(VERIFY)/gossip-seed@5000.service \
		$(VERIFY)/gossip-seed@5000.socket $(VERIFY)/gossip-peer@5000.service \
		$(VERIFY)/gossip-peer@5000.socket $(VERIFY)/gossip.target 2>&1) \
		&& [ -z "$$out" ] || { echo "$$out" >&2; echo "units-verify: failed" >&2; exit 1; }
	@sed 's/^Type=notify/&\nNoSuchSetting=1/' $(VERIFY)/gossip-peer@.service \
		> $(VERIFY)/bad@.service && ln -sf bad@.service $(VERIFY)/bad@1.service
	@out=$$(systemd-analyze verify --man=no $(VERIFY)/bad@1.service 2>&1) && [ -z "$$out" ] \
		&& { echo "units-verify: a unit with an unknown key passed verification" >&2; exit 1; } || true
	@echo "units-verify: all units verified"

print-unitdir:
	@echo $(SYSTEMDUNITDIR)

# Everything, in order of cost. The system and package tests boot containers with the
# release build installed, so they run in the plain pass only (not with SANITIZE=1).
check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) units-verify
	$(MAKE) man-check
	$(MAKE) integration
	$(MAKE) bench-smoke
ifneq ($(SANITIZE),1)
	$(MAKE) system
	$(MAKE) package-check
endif

# A local network: 3 seeds and 5 peers, one message broadcast and seen everywhere.
demo: build-deps
	$(MAKE) all
	GOSSIP_BUILD=$(BUILD) tests/demo/run

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/gossip-seed $(BUILD)/gossip-peer $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/gossipctl $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/gossip
	install -m 0644 etc/gossip/gossip.conf etc/gossip/seeds.txt $(DESTDIR)$(SYSCONFDIR)/gossip/
	for s in 1 5 7 8; do install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 man/*.$$s $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
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

# ---- Packages (packaging/, tests/package/): dist tarball, .deb, .rpm ----
# The version is GOSSIP_VERSION in src/common/util.h (what --version prints);
# packaging/debian/changelog and packaging/rpm/gossip.spec must carry the same
# upstream version, which "make dist" checks. Builds happen in copies under
# build/; the packages land in build/packages/.
PKG_VERSION := $(shell sed -n 's/^.define GOSSIP_VERSION "\(.*\)"/\1/p' src/common/util.h)
PKG_OUT ?= build/packages
DIST_NAME := gossip-$(PKG_VERSION)
DIST_TARBALL := build/$(DIST_NAME).tar.gz
# The top entry of packaging/debian/changelog; DEB_VERSION=0.1.0-2 builds the
# .deb as another version instead (package-check: an upgrade).
CHANGELOG_VERSION := $(shell head -n1 packaging/debian/changelog | cut -d'(' -f2 | cut -d')' -f1)
ifeq ($(origin DEB_VERSION),undefined)
DEB_VERSION := $(CHANGELOG_VERSION)
endif
DEB_OUTDIR ?= $(PKG_OUT)
DEB_WORK = build/deb/$(DEB_VERSION)
RPM_TOPDIR = $(abspath build/rpm)
# Packager: is set by the build environment, not the spec (Fedora).
RPM_PACKAGER ?= $(shell sed -n 's/^Maintainer: *//p' packaging/debian/control)
# Debian's rpm lacks systemd-rpm-macros and cannot resolve Fedora's BuildRequires.
RPM_HAS_SYSTEMD_MACROS = $(shell rpm --eval '%{?systemd_post:yes}' 2>/dev/null)
RPM_FLAGS = $(if $(RPM_HAS_SYSTEMD_MACROS),,--nodeps --load=$(abspath packaging/rpm/macros.debian) \
	--define '_unitdir $(SYSTEMDUNITDIR)' --define '_sysusersdir $(SYSUSERSDIR)' \
	--define '_tmpfilesdir $(TMPFILESDIR)' --define '_journalcatalogdir $(CATALOGDIR)')

.PHONY: dist deb rpm package-check package-deps

# What building the packages needs on Debian, installed when missing (as "make
# deps" does), and what package-check needs besides. find-debuginfo (debugedit,
# pulled in by rpm) strips with eu-strip, which rpm only suggests (elfutils);
# the container tests use ss (iproute2) and pgrep (procps).
PACKAGE_BUILD_DEPS := $(BUILD_DEPS) libcmocka-dev debhelper dpkg-dev rpm elfutils
PACKAGE_TEST_DEPS := lintian rpmlint python3 python3-pytest systemd-container util-linux iproute2 procps
package-deps:
	$(call install_missing,$(PACKAGE_BUILD_DEPS))

# The tree as git sees it (tracked and untracked, not ignored, not deleted), else every file.
dist: SHELL := /bin/bash
dist:
	@deb='$(CHANGELOG_VERSION)'; \
	spec=$$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/gossip.spec); \
	if [ -z "$(PKG_VERSION)" ] || [ "$${deb%-*}" != "$(PKG_VERSION)" ] || [ "$$spec" != "$(PKG_VERSION)" ]; then \
		echo "dist: version mismatch: src/common/util.h '$(PKG_VERSION)'," \
			"packaging/debian/changelog '$$deb', packaging/rpm/gossip.spec '$$spec'" >&2; exit 1; fi
	@mkdir -p build
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -c -o --exclude-standard; \
	else find . -path ./build -prune -o -path ./.git -prune -o \( -type f -o -type l \) -printf '%P\0'; fi \
	| LC_ALL=C sort -z -u | while IFS= read -r -d '' f; do \
		case "$$f" in build/*|debian/*) continue;; esac; \
		if [ -e "$$f" ] || [ -L "$$f" ]; then printf '%s\0' "$$f"; fi; done > build/dist-files
	tar --null -T build/dist-files --transform 'flags=r;s,^,$(DIST_NAME)/,' --sort=name \
		--owner=0 --group=0 --numeric-owner --mode='u+rw,go+r,go-w' \
		--mtime="@$$(git log -1 --format=%ct 2>/dev/null || date +%s)" -cf - | gzip -n9 > $(DIST_TARBALL)
	@echo "dist: $(DIST_TARBALL) ($$(tr -cd '\0' < build/dist-files | wc -c) files)"

# dpkg-buildpackage in an unpacked copy of the dist tarball, packaging/debian as debian/.
deb: package-deps dist
	rm -rf $(DEB_WORK) && mkdir -p $(DEB_WORK) $(DEB_OUTDIR)
	tar -xzf $(DIST_TARBALL) -C $(DEB_WORK)
	cp -a $(DEB_WORK)/$(DIST_NAME)/packaging/debian $(DEB_WORK)/$(DIST_NAME)/debian
	sed -i '1s/^gossip ([^)]*)/gossip ($(DEB_VERSION))/' $(DEB_WORK)/$(DIST_NAME)/debian/changelog
	cd $(DEB_WORK)/$(DIST_NAME) && dpkg-buildpackage -us -uc -b -J
	rm -f $(DEB_OUTDIR)/*.deb && cp $(DEB_WORK)/*.deb $(DEB_OUTDIR)/
	@ls -l $(DEB_OUTDIR)/*.deb

# rpmbuild -bb with its tree under build/rpm.
rpm: package-deps dist
	rm -rf $(RPM_TOPDIR) && mkdir -p $(RPM_TOPDIR)/SOURCES $(PKG_OUT)
	cp $(DIST_TARBALL) $(RPM_TOPDIR)/SOURCES/
	cp systemd/gossip.sysusers $(RPM_TOPDIR)/SOURCES/gossip.sysusers
	rpmbuild -bb --define '_topdir $(RPM_TOPDIR)' --define 'packager $(RPM_PACKAGER)' $(RPM_FLAGS) packaging/rpm/gossip.spec
	rm -f $(PKG_OUT)/*.rpm && cp $(RPM_TOPDIR)/RPMS/*/*.rpm $(PKG_OUT)/
	@ls -l $(PKG_OUT)/*.rpm

# Lints both packages, compares their file lists, and installs, upgrades and
# purges the .deb in a booted systemd container (tests/system/container.py).
package-check: deb rpm
	$(call install_missing,$(PACKAGE_TEST_DEPS))
	DEB_BUILD_OPTIONS="nocheck noddebs" $(MAKE) deb DEB_VERSION=$(DEB_VERSION)+check1 \
		DEB_OUTDIR=$(PKG_OUT)/upgrade
	GOSSIP_PACKAGES=$(abspath $(PKG_OUT)) $(PYTHON) -m pytest -q tests/package

# ---- Manual pages (man/, tests/man/check) ----
# mandoc -Tlint on every page; every option, gossipctl command, exit status and
# setting of this build documented, with the defaults and ranges of conf.c.
.PHONY: man-check
man-check: all
	$(PYTHON) tests/man/check $(BUILD)

# Benchmark harness (README.md, "Benchmarks"): S seeds and N peers on loopback, then latency,
# delivery, throughput, redundancy, resources, failure detection, payload sizes, sustained rate,
# and the same propagation measurement on Serf when it is installed. Tables on stdout, JSON in
# BENCH_JSON. Options: make bench BENCH_N="10 50 200 1000" BENCH_K=100 BENCH_COUNTS="1000 4000"
# BENCH_SEEDS=3 BENCH_SERF=auto|0|1 BENCH_SUSTAINED=1|0 BENCH_LONG=0|1 BENCH_ARGS="--keep ..."
BENCH_N ?= 10 50 200
BENCH_SEEDS ?= 3
BENCH_K ?=
BENCH_COUNTS ?=
BENCH_SERF ?= auto
BENCH_SUSTAINED ?= 1
BENCH_LONG ?= 0
BENCH_JSON ?= build/bench/bench.json
BENCH_ARGS ?=
.PHONY: bench bench-smoke
bench: all
	$(PYTHON) tests/bench/bench.py --build $(BUILD) --n "$(BENCH_N)" --seeds $(BENCH_SEEDS) \
		$(if $(BENCH_K),--k $(BENCH_K)) $(if $(BENCH_COUNTS),--counts "$(BENCH_COUNTS)") \
		--serf $(BENCH_SERF) --sustained $(BENCH_SUSTAINED) --long $(BENCH_LONG) \
		--json $(BENCH_JSON) $(BENCH_ARGS)
# A quick run of every phase (N=5, few messages, no Serf, no thresholds), for make check.
bench-smoke: all
	$(PYTHON) tests/bench/bench.py --smoke --build $(BUILD) --json build/bench/smoke.json

# ---- System tests (tests/system/): the installed units under a real systemd ----
# make install into a staging tree, copied into a systemd-nspawn container booted over an
# overlay of / (tests/system/container.py); needs root and systemd-container, else skipped
# (-rsx prints why, and the reasons of the known-bug xfails).
.PHONY: system
system: all
	$(PYTHON) -m pytest -q -rsx tests/system
