# xnsg — Azure NSG semantics on Linux with XDP/TC.
#   make            build build/xnsg (installs missing Debian packages first)
#   make test       unit, BPF and end-to-end tests
#   make demo       the whole thing on network namespaces with real traffic
#   make bench      benchmarks (bench/RESULTS.md); make bench-quick; make bench-cni
#   make install    /usr/local/sbin/xnsg, the man page, $(CNI_BIN_DIR)/xnsg-cni,
#                   the systemd unit and bash completion
#   V=1             show full commands
BUILD    ?= build
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
# $(PREFIX)/lib/systemd/system is on systemd's unit path for /usr/local.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
  Q =
  msg =
else
  Q = @
  msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

# Evaluated when used, so after `deps` has installed pkg-config's files.
# libmicrohttpd and libsystemd are not linked but opened at first use
# (user/lib/dynlib.h): with the 15 libraries they bring they cost every
# command ~3 ms in the dynamic loader, and only `run` uses them.
PKG_CFLAGS = $(shell pkg-config --cflags libbpf jansson libmicrohttpd libsystemd libxxhash 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs libbpf jansson libxxhash 2>/dev/null)
# What such a library is opened by: the SONAME of the one this build
# found, and the Debian package holding it (for the error that it is
# missing): -DPREFIX_SONAME="..." -DPREFIX_DEB="...".
dyn_libdir = $(shell pkg-config --variable=libdir $(1) 2>/dev/null)
dyn_soname = $(shell objdump -p $(call dyn_libdir,$(1))/$(1).so 2>/dev/null | sed -n 's/^ *SONAME *//p')
dyn_deb    = $(shell dpkg-query -S '*/$(1)' 2>/dev/null | sed -n '1s/:.*//p')
dyn_defs   = $(foreach so,$(call dyn_soname,$(1)),-D$(2)_SONAME='"$(so)"' -D$(2)_DEB='"$(call dyn_deb,$(so))"')
CFLAGS    ?= -O2 -g
# user/ is one folder per stage (policy/, eval/, compile/, datapath/, cli/,
# lib/); each is on the include path so a header is named, not located.
USER_DIRS := $(sort $(patsubst %/,%,$(dir $(shell find user -name '*.[ch]'))))
XCFLAGS    = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude $(addprefix -I,$(USER_DIRS)) -I$(BUILD) $(PKG_CFLAGS) -MMD -MP
LDLIBS     = $(PKG_LIBS) -lelf -lz -lm
BPF_CFLAGS = -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
             -Wno-unused-parameter -I$(BUILD) -Iinclude -Ibpf

LIB_SRCS  := $(filter-out user/main.c,$(shell find user -name '*.c'))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) $(wildcard include/xnsg/*.h)
UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFT_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bpf/*.c))
# Helpers shared by the unit and BPF suites: policy generator, packet builder.
TLIB_SRCS := $(wildcard tests/lib/*.c)
TLIB_OBJS := $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TLIB_SRCS))
# Test-only BPF programs (tests/bpf/NAME.bpf.c): skeleton build/tests/NAME.skel.h
BPFT_PROGS := $(wildcard tests/bpf/*.bpf.c)
BPFT_SKELS := $(patsubst tests/bpf/%.bpf.c,$(BUILD)/tests/%.skel.h,$(BPFT_PROGS))
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps test test-unit test-bpf test-e2e demo bench bench-quick bench-cni install clean

all: $(BUILD)/xnsg $(BUILD)/xnsg-cni

# One binary: run as xnsg-cni it is the CNI plugin (user/cni/).
$(BUILD)/xnsg-cni: $(BUILD)/xnsg
	$(Q)ln -sf xnsg $@

# Installs what is missing; the stamp keeps later builds from asking dpkg.
deps:
	$(Q)tools/deps.sh
	$(Q)mkdir -p $(BUILD) && touch $(DEPS_STAMP)

$(DEPS_STAMP): tools/deps.sh
	$(Q)tools/deps.sh
	$(Q)mkdir -p $(BUILD) && touch $@

$(BUILD)/vmlinux.h: | $(DEPS_STAMP)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/xnsg.bpf.o: bpf/xnsg.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(BUILD)/xnsg.tmp.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $(BUILD)/xnsg.tmp.bpf.o

$(BUILD)/xnsg.skel.h: $(BUILD)/xnsg.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xnsg > $@

$(BUILD)/tests/%.bpf.o: tests/bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $(@:.bpf.o=.tmp.bpf.o)
	$(Q)$(BPFTOOL) gen object $@ $(@:.bpf.o=.tmp.bpf.o)

$(BUILD)/tests/%.skel.h: $(BUILD)/tests/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/user/%.o: user/%.c $(BUILD)/xnsg.skel.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -c $< -o $@

$(BUILD)/user/metrics/http.o: XCFLAGS += $(call dyn_defs,libmicrohttpd,XNSG_MHD)
$(BUILD)/user/daemon/journal.o: XCFLAGS += $(call dyn_defs,libsystemd,XNSG_SYSTEMD)

$(BUILD)/libxnsg.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/xnsg: $(BUILD)/user/main.o $(BUILD)/libxnsg.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c $(BUILD)/xnsg.skel.h $(BPFT_SKELS) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -Itests -Itests/lib -I$(BUILD)/tests -c $< -o $@

$(BUILD)/tests/unit-tests: $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(UNIT_SRCS)) $(TLIB_OBJS) $(BUILD)/libxnsg.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/tests/bpf-tests: $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(BPFT_SRCS)) $(TLIB_OBJS) $(BUILD)/libxnsg.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/bench/%.o: bench/%.c $(BUILD)/xnsg.skel.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -Itests/lib -c $< -o $@

# The benchmark's policies come from the tests' generator.
$(BUILD)/xnsg-bench: $(patsubst bench/%.c,$(BUILD)/bench/%.o,$(wildcard bench/*.c)) $(BUILD)/tests/lib/gen_policy.o $(BUILD)/libxnsg.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

test: $(BUILD)/xnsg $(BUILD)/tests/unit-tests $(BUILD)/tests/bpf-tests
	$(Q)tools/run-tests.sh $(BUILD)

test-unit: $(BUILD)/xnsg $(BUILD)/tests/unit-tests
	$(Q)$(BUILD)/tests/unit-tests

test-bpf: $(BUILD)/xnsg $(BUILD)/tests/bpf-tests
	$(Q)$(BUILD)/tests/bpf-tests

test-e2e: $(BUILD)/xnsg
	$(Q)tests/e2e/run.sh $(BUILD)/xnsg

demo: $(BUILD)/xnsg
	$(Q)examples/demo.sh $(BUILD)/xnsg

bench: $(BUILD)/xnsg $(BUILD)/xnsg-bench $(BUILD)/xnsg-cni
	$(Q)bench/run.sh $(BUILD)
	$(Q)bench/cni.sh $(BUILD)

# CNI ADD latency with 250 containers attached (bench/cni.sh).
bench-cni: $(BUILD)/xnsg $(BUILD)/xnsg-cni
	$(Q)bench/cni.sh $(BUILD)

bench-quick: $(BUILD)/xnsg $(BUILD)/xnsg-bench
	$(Q)bench/run.sh $(BUILD) --quick

# The CNI plugin is a copy, not a link: the CNI bin dir is often another
# filesystem, or copied onto a node by an init container, where a link
# would dangle.
install: $(BUILD)/xnsg
	install -D -m 0755 $(BUILD)/xnsg $(DESTDIR)$(PREFIX)/sbin/xnsg
	install -D -m 0644 man/xnsg.8 $(DESTDIR)$(PREFIX)/share/man/man8/xnsg.8
	install -D -m 0755 $(BUILD)/xnsg $(DESTDIR)$(CNI_BIN_DIR)/xnsg-cni
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's#@SBINDIR@#$(PREFIX)/sbin#' dist/xnsg.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/xnsg.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/xnsg.service
	install -D -m 0644 dist/completion/xnsg $(DESTDIR)$(BASH_COMPLETION_DIR)/xnsg

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/user $(BUILD)/tests $(BUILD)/bench -name '*.d' 2>/dev/null)
