# sandbox-agent build. `make` builds build/sandbox-agent: static, stripped,
# musl, -Os. See README.md for the targets.
.POSIX:
.SUFFIXES:

VERSION     ?= 0.1.11
BUILD       := build
BIN         := $(BUILD)/sandbox-agent
FUZZ_SECONDS ?= 60
SMOKE_SECONDS ?= 5

SRCS      := $(filter-out $(EXCLUDE),$(shell find src -name '*.c' | sort))
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
HDRS      := $(shell find src -name '*.h')
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))

WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wno-unused-parameter -Wformat=2 -Wvla
DEFS   := -std=c11 -D_GNU_SOURCE -DSA_VERSION='"$(VERSION)"'

# --- BearSSL (fetched and verified by third_party/bearssl/fetch.sh) ---
BEARSSL_DIR  := $(BUILD)/bearssl
BEARSSL_SRC  := $(BEARSSL_DIR)/src/.ok
BEARSSL_MUSL := $(BEARSSL_DIR)/musl/libbearssl.a
BEARSSL_HOST := $(BEARSSL_DIR)/host/libbearssl.a
BEARSSL_ASAN := $(BEARSSL_DIR)/asan2/libbearssl.a
BEARSSL_INC  := -I$(BEARSSL_DIR)/src/inc

# --- release: musl, static, stripped ---
CC_REL     := musl-gcc
CFLAGS_REL := $(DEFS) $(WARN) -Os -ffunction-sections -fdata-sections \
              -fno-asynchronous-unwind-tables -fno-unwind-tables \
              -fno-stack-protector -fomit-frame-pointer $(BEARSSL_INC)
LDFLAGS_REL := -static -s -Wl,--gc-sections -Wl,-z,noseparate-code \
               -Wl,-z,norelro -Wl,--build-id=none
OBJ_REL    := $(patsubst src/%.c,$(BUILD)/rel/%.o,$(SRCS))

# --- host build for unit tests (gcc, glibc, debug) ---
CC_HOST     ?= gcc
CFLAGS_HOST := $(DEFS) $(WARN) -g -O1 $(BEARSSL_INC)
OBJ_HOST    := $(patsubst src/%.c,$(BUILD)/host/%.o,$(LIB_SRCS))

# --- sanitizer build (clang, ASan+UBSan, glibc) for `make check` ---
CC_SAN     := clang
SANFLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_SAN := $(DEFS) $(WARN) -g -O1 $(SANFLAGS) $(BEARSSL_INC)
OBJ_SAN    := $(patsubst src/%.c,$(BUILD)/san/%.o,$(SRCS))
OBJ_SANLIB := $(patsubst src/%.c,$(BUILD)/san/%.o,$(LIB_SRCS))

# --- fuzz build (clang, libFuzzer, ASan+UBSan) ---
CFLAGS_FUZZ := $(DEFS) $(WARN) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(BEARSSL_INC)
OBJ_FUZZ    := $(patsubst src/%.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS))
FUZZ_BINS   := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

.SECONDARY:
.PHONY: all deps run test check fuzz fuzz-smoke size bench clean unit bearssl
all: $(BIN)

deps:
	@sh tests/deps.sh

$(BEARSSL_SRC):
	@sh third_party/bearssl/fetch.sh $(BEARSSL_DIR)/src
$(BEARSSL_MUSL): $(BEARSSL_SRC)
	@sh third_party/bearssl/build.sh $(BEARSSL_DIR)/src $(BEARSSL_DIR)/musl musl-gcc "-Os -ffunction-sections -fdata-sections"
$(BEARSSL_HOST): $(BEARSSL_SRC)
	@sh third_party/bearssl/build.sh $(BEARSSL_DIR)/src $(BEARSSL_DIR)/host $(CC_HOST) "-O1 -g"
$(BEARSSL_ASAN): $(BEARSSL_SRC)
	@sh third_party/bearssl/build.sh $(BEARSSL_DIR)/src $(BEARSSL_DIR)/asan2 clang "-O1 -g -fsanitize=fuzzer-no-link,address,undefined -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0"
bearssl: $(BEARSSL_MUSL)

$(BUILD)/rel/%.o: src/%.c $(HDRS) $(BEARSSL_SRC)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC_REL) $(CFLAGS_REL) -c $< -o $@
$(BIN): $(OBJ_REL) $(BEARSSL_MUSL)
	@echo "  LD      $@"
	@$(CC_REL) $(LDFLAGS_REL) -o $@ $(OBJ_REL) $(BEARSSL_MUSL)

$(BUILD)/host/%.o: src/%.c $(HDRS) $(BEARSSL_SRC)
	@mkdir -p $(@D)
	@$(CC_HOST) $(CFLAGS_HOST) -c $< -o $@
$(BUILD)/san/%.o: src/%.c $(HDRS) $(BEARSSL_SRC)
	@mkdir -p $(@D)
	@$(CC_SAN) $(CFLAGS_SAN) -c $< -o $@
$(BUILD)/fuzzobj/%.o: src/%.c $(HDRS) $(BEARSSL_SRC)
	@mkdir -p $(@D)
	@clang $(CFLAGS_FUZZ) -c $< -o $@

# Unit tests: one binary per tests/unit/test_<module>.c, linked with every
# library object. UNIT_MODE=san builds them with the sanitizers.
$(BUILD)/unit/%: tests/unit/%.c tests/unit/t.h $(OBJ_HOST) $(BEARSSL_HOST)
	@mkdir -p $(@D)
	@echo "  UNIT    $@"
	@$(CC_HOST) $(CFLAGS_HOST) -Isrc -o $@ $< $(OBJ_HOST) $(BEARSSL_HOST)
$(BUILD)/unit-san/%: tests/unit/%.c tests/unit/t.h $(OBJ_SANLIB) $(BEARSSL_ASAN)
	@mkdir -p $(@D)
	@echo "  UNIT    $@"
	@$(CC_SAN) $(CFLAGS_SAN) -Isrc -o $@ $< $(OBJ_SANLIB) $(BEARSSL_ASAN)
UNIT_BINS     := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_SAN_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit-san/%,$(UNIT_SRCS))

# The sanitizer server binary, used by `make check` for every suite.
$(BUILD)/sandbox-agent-san: $(OBJ_SAN) $(BEARSSL_ASAN)
	@echo "  LD      $@"
	@$(CC_SAN) $(SANFLAGS) -fsanitize=fuzzer-no-link -o $@ $(OBJ_SAN) $(BEARSSL_ASAN)

$(BUILD)/fuzz/%: fuzz/%.c $(OBJ_FUZZ) $(BEARSSL_ASAN)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@clang $(CFLAGS_FUZZ) -fsanitize=fuzzer -Isrc -Ifuzz -o $@ $< $(OBJ_FUZZ) $(BEARSSL_ASAN)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	./$(BIN) server --host 127.0.0.1 --port 2468 --no-token

# `make test`: every suite; the last line is "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory $(BIN) $(UNIT_BINS) $(FUZZ_BINS)
	@sh tests/run.sh rel $(BIN) "$(UNIT_BINS)" "$(FUZZ_BINS)" $(SMOKE_SECONDS)

check: deps
	@$(MAKE) --no-print-directory $(BUILD)/sandbox-agent-san $(UNIT_SAN_BINS) $(FUZZ_BINS)
	@sh tests/run.sh san $(BUILD)/sandbox-agent-san "$(UNIT_SAN_BINS)" "$(FUZZ_BINS)" $(SMOKE_SECONDS)

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do ./$$t; done

fuzz: $(FUZZ_BINS)
	@sh tests/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

size: $(BIN)
	@wc -c < $(BIN) | awk '{printf "%s: %d bytes (%.1f KiB)\n", "$(BIN)", $$1, $$1/1024}'
	@file $(BIN)

bench: $(BIN)
	@sh tests/bench/run.sh $(BIN)

clean:
	rm -rf $(BUILD)/rel $(BUILD)/host $(BUILD)/san $(BUILD)/fuzzobj $(BUILD)/unit \
	       $(BUILD)/unit-san $(BUILD)/fuzz $(BIN) $(BUILD)/sandbox-agent-san
