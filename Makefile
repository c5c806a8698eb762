# Kafki developer commands. `make test` and `make demo` install what a fresh
# Debian machine lacks (librocksdb-dev, kcat, curl, postgresql) before they run.

GO        ?= go
SUDO      := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
# Packages whose code runs concurrently: tested with the race detector too.
# runtime and cmd, the slowest, run only there: the race run covers the same
# tests, and running them twice cost CI about four minutes.
PKGS       = $(shell $(GO) list ./... | grep -v -e '^github.com/kafki/kafki/runtime' -e '^github.com/kafki/kafki/cmd/')
RACE_PKGS := ./runtime/... ./changelog/... ./state/... ./cmd/... ./serde/... ./connect/ ./connect/file/
TEST_TIMEOUT ?= 20m

.PHONY: setup test test-race demo cdc-demo bench lint fmt build

## setup: install the system packages Kafki needs (only those missing).
setup:
	@missing=""; \
	[ -f /usr/include/rocksdb/c.h ] || missing="$$missing librocksdb-dev"; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/bin/prometheus ] || missing="$$missing prometheus"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: setup
	$(GO) build ./...

## test: every test, then the race detector on the concurrent packages. The
## DSL and the test driver must build without cgo (RocksDB is in state/rocksdb).
test: setup
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./stream/... ./topology/...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	$(GO) test -count=1 -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)

## demo: start an embedded broker, run word count, show the counts.
demo: setup
	$(GO) run ./examples/wordcount

## cdc-demo: PostgreSQL orders -> CDC -> Kafki revenue per customer -> PostgreSQL,
## on an embedded broker and a PostgreSQL the example starts itself.
cdc-demo: setup
	$(GO) run ./examples/cdcpipeline

## bench: the benchmark suite; writes BENCHMARKS.md.
bench: setup
	$(GO) run ./cmd/kafki-bench $(BENCH_FLAGS)

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
