# SPDX-License-Identifier: Apache-2.0
# doppel build: one GNU Makefile, pkg-config, out-of-tree build directory.
# Sources are discovered by wildcard: every src/<room>/*.c goes into libdoppel.a,
# every tests/unit/<room>/test_*.c becomes one cmocka binary, every tests/lib/cmd/*.c
# and examples/demo-app/*.c one helper program.

BUILD    ?= build
SANITIZE ?=
CC       ?= cc
PKGS      = libuv yaml-0.1 libcjson openssl libpq
CPPFLAGS += -Isrc -Itests/lib -D_GNU_SOURCE -MMD -MP
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes -pthread \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lm -pthread
ifeq ($(CI),true)
CFLAGS   += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

SRC       := $(sort $(wildcard src/*/*.c))
HDR       := $(sort $(wildcard src/*/*.h))
OBJ       := $(SRC:%.c=$(BUILD)/%.o)
TLIB_SRC  := $(wildcard tests/lib/*.c)
TLIB_OBJ  := $(TLIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
CMD_SRC   := $(wildcard tests/lib/cmd/*.c)
CMD_BIN   := $(CMD_SRC:tests/lib/cmd/%.c=$(BUILD)/tests/%)
DEMO_BIN  := $(if $(wildcard examples/demo-app/*.c),$(BUILD)/demo-app)

.PHONY: all bin deps test check-all asan demo demo-data bench lint format clean
all: deps
	@$(MAKE) --no-print-directory bin

bin: $(BUILD)/doppel $(UNIT_BIN) $(CMD_BIN) $(DEMO_BIN)

deps:
	@scripts/install-deps

$(BUILD)/libdoppel.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/doppel: $(BUILD)/src/main.o $(BUILD)/libdoppel.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(TLIB_OBJ) $(BUILD)/libdoppel.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $^ \
		$(shell pkg-config --libs cmocka) $(LDLIBS)

$(BUILD)/tests/%: tests/lib/cmd/%.c $(BUILD)/libdoppel.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/demo-app: $(wildcard examples/demo-app/*.c)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The README's test command: install what is missing, build plain and ASan+UBSan, run all.
test: deps
	@$(MAKE) --no-print-directory bin
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 bin
	@scripts/run-tests build build/asan

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 bin

# The main job on embedded defaults.
demo: all
	@scripts/demo

# A masked shadow database following a live PostgreSQL source (docs/datashadow.md).
demo-data: all
	@scripts/demo-data

bench: all
	@echo "benchmarks: see bench/README.md (bench/gateway, bench/analyzer)"

lint:
	@scripts/check-layers
	@scripts/check-src
	@clang-format --dry-run --Werror $(SRC) $(HDR) src/main.c $(UNIT_SRC) $(TLIB_SRC) $(CMD_SRC)
	@cppcheck --quiet --error-exitcode=1 --std=c11 -Isrc src

format:
	clang-format -i $(SRC) $(HDR) src/main.c $(UNIT_SRC) $(TLIB_SRC) $(CMD_SRC)

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(BUILD)/src/main.d
