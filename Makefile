# Sluice build. Out of tree: everything lands in $(BUILD) (build/ by default,
# build-asan/ when SANITIZE is set). Generated protobuf-c code lives only there.
#
#   make               build daemons, CLI, libsluice.{a,so}, sluice.pc
#   make deps          install missing Debian packages (apt-get)
#   make test          deps + build + unit + integration + the ASan integration run
#   make demo          deps + build + a local cluster showing `sluice status`
#   make install PREFIX=/usr/local
#   DEVELOPER=1        adds -Werror      SANITIZE=address,undefined   own build dir

PREFIX     ?= /usr/local
CC         ?= cc
SANITIZE   ?=
ifeq ($(SANITIZE),)
BUILD      ?= build
else
BUILD      ?= build-asan
endif
GEN        := $(BUILD)/gen
VERSION    := 0.1.0

PKGS       := libprotobuf-c libevent libevent_pthreads sqlite3 jansson libcrypto libxxhash
TEST_PKGS  := check
DEB_PKGS   := build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev \
              libevent-dev librdkafka-dev libsqlite3-dev check libssl-dev libjansson-dev libxxhash-dev

PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl -lm
CHECK_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
CHECK_LIBS  = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(DEVELOPER),1)
WARN       += -Werror
endif
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fPIC -pthread \
              $(WARN) $(CFLAGS) -I. -Icommon -I$(GEN) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := -pthread $(LDFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

COMMON_SRC := $(wildcard common/*.c)
MASTER_SRC := $(wildcard master/*.c)
WORKER_SRC := $(wildcard worker/*.c)
CLIENT_SRC := $(filter-out client/cli.c,$(wildcard client/*.c))
CLI_SRC    := client/cli.c

GEN_SRC    := $(GEN)/sluice.pb-c.c
obj         = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(BUILD)/obj/gen/sluice.pb-c.o
MASTER_OBJ := $(call obj,$(MASTER_SRC))
WORKER_OBJ := $(call obj,$(WORKER_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
CLI_OBJ    := $(call obj,$(CLI_SRC))

UNIT_SRC   := $(wildcard tests/unit/test_*.c) tests/unit/fake_master.c
UNIT_BIN   := $(BUILD)/tests/unit_tests
ITEST_SRC  := $(wildcard tests/integration/*.c)
ITEST_BIN  := $(BUILD)/tests/integration_tests
# Small programs the integration tests drive (producers through libsluice, ...).
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOLS      := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRC))
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCHES    := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

EXAMPLE_SRC := $(wildcard client/examples/*.c)
EXAMPLES   := $(patsubst client/examples/%.c,$(BUILD)/examples/lib%.so,$(EXAMPLE_SRC))

BINS := $(BUILD)/sluice-master $(BUILD)/sluice-worker $(BUILD)/sluice \
        $(BUILD)/libsluice.a $(BUILD)/libsluice.so $(BUILD)/sluice.pc $(EXAMPLES)

.PHONY: all deps test unit integration asan-integration demo install clean valgrind check-deps bench
.SECONDARY:
.DELETE_ON_ERROR:

all: check-deps $(BINS)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing build dependencies: run 'make deps'" >&2; exit 1; }

deps:
	@sh deploy/install-deps.sh $(DEB_PKGS)

$(GEN)/sluice.pb-c.c $(GEN)/sluice.pb-c.h: proto/sluice.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) proto/sluice.proto

# Every object may include the generated header.
$(BUILD)/obj/%.o: %.c $(GEN)/sluice.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/sluice.pb-c.o: $(GEN)/sluice.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/libsluice-common.a: $(COMMON_OBJ)
	ar rcs $@ $^

$(BUILD)/libsluice.a: $(CLIENT_OBJ) $(COMMON_OBJ)
	ar rcs $@ $^

$(BUILD)/libsluice.so: $(CLIENT_OBJ) $(COMMON_OBJ)
	$(CC) -shared -Wl,-soname,libsluice.so.0 -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/sluice-master: $(MASTER_OBJ) $(BUILD)/libsluice-common.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/sluice-worker: $(WORKER_OBJ) $(BUILD)/libsluice-common.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/sluice: $(CLI_OBJ) $(BUILD)/libsluice.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

# The pkg-config file names PREFIX: `make install` writes it anew for its own.
PC_GEN = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@REQUIRES@|$(PKGS)|g'

$(BUILD)/sluice.pc: client/sluice.pc.in Makefile
	$(PC_GEN) $< > $@

# User-function example libraries: they need only common/sluice_udf.h.
$(BUILD)/examples/lib%.so: client/examples/%.c common/sluice_udf.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -shared -fPIC $(WARN) $(CFLAGS) -Icommon -o $@ $<

# --- tests -----------------------------------------------------------------

# The checkpoint is a master module with its own unit suite.
$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(BUILD)/obj/master/checkpoint.o \
             $(BUILD)/obj/master/checkpoint-load.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS)

$(ITEST_BIN): $(call obj,$(ITEST_SRC)) $(BUILD)/libsluice-common.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(call obj,$(UNIT_SRC)): ALL_CFLAGS += $(CHECK_CFLAGS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

# Benchmarks print figures; they are not part of `make test`.
bench: deps
	$(MAKE) all $(BENCHES)
	sh tests/bench/run.sh $(BUILD)

unit: all $(UNIT_BIN)
	$(UNIT_BIN)

integration: all $(ITEST_BIN) $(TOOLS)
	SLUICE_BIN_DIR=$(BUILD) $(ITEST_BIN)

# The daemons and the CLI built with ASan+UBSan, driven by the same tests.
asan-integration:
	$(MAKE) SANITIZE=address,undefined all build-asan/tests/integration_tests \
	    $(patsubst $(BUILD)/%,build-asan/%,$(TOOLS))
	SLUICE_BIN_DIR=build-asan SLUICE_SANITIZED=1 build-asan/tests/integration_tests

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) asan-integration

demo: deps
	$(MAKE) all
	sh deploy/demo.sh $(BUILD)

valgrind: all $(UNIT_BIN)
	CK_FORK=no valgrind --error-exitcode=1 --leak-check=full $(UNIT_BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sluice \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/sluice-master $(BUILD)/sluice-worker $(BUILD)/sluice $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libsluice.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libsluice.so $(DESTDIR)$(PREFIX)/lib/libsluice.so.0
	ln -sf libsluice.so.0 $(DESTDIR)$(PREFIX)/lib/libsluice.so
	install -m 644 client/sluice.h common/status.h common/sluice_udf.h \
	    $(DESTDIR)$(PREFIX)/include/sluice/
	$(PC_GEN) client/sluice.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sluice.pc

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
