# avatar-sync build and test entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
# -race roughly doubles test time; CI has the budget for it on 2 cores.
TESTFLAGS ?= -race -count=1 -timeout 12m
BIN       ?= bin/avatar-sync
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test test-quick test-k8s kube-apiserver vet lint bench bench-cli bench-cli-old fuzz schema clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/avatar-sync

vet:
	$(GO) vet $(PKGS)

test: vet
	$(GO) test $(TESTFLAGS) $(PKGS)

# test-quick is the inner loop (issue 21; `make test` takes ~17 min on a loaded 2-core machine):
# no -race (it roughly doubles the time), no vet, -short, and Go's test cache (no -count=1), so
# packages whose code and inputs did not change are not run again. Narrow it with PKGS=./spec/...
# Run `make test` before pushing: CI does.
QUICKFLAGS ?= -short -timeout 10m
test-quick:
	$(GO) test $(QUICKFLAGS) $(PKGS)

# test-k8s runs the Kubernetes plane's tests against a real kube-apiserver + etcd (issue 11); they
# carry the build tag kubeapiserver so `make test` neither needs nor waits for them. The API server
# is built once (cold: ~1,100 CPU-seconds) into $${XDG_CACHE_HOME:-~/.cache}/avatar-sync/ and reused.
K8S_PKGS ?= ./kube/... ./internal/kubetest/...
test-k8s: kube-apiserver
	$(GO) vet -tags kubeapiserver $(K8S_PKGS) ./cmd/avatar-sync
	$(GO) test -tags kubeapiserver $(TESTFLAGS) $(K8S_PKGS)
	$(GO) test -tags kubeapiserver $(TESTFLAGS) -run 'TestKube' ./cmd/avatar-sync

kube-apiserver:
	@scripts/kube-apiserver.sh >/dev/null

# lint: formatting and staticcheck (.ci/run installs it: `go install honnef.co/go/tools/cmd/staticcheck@v0.8.2`;
# without it lint says so and checks formatting only). The package graph is enforced by a test.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped"; fi

# Benchmarks are kept out of `make test`; results are recorded in docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

# bench-cli times the built binary end to end (process start and spec parse included) against `dev up`,
# next to the floor program (clusters/internal/floor: franz-go sending only the requests each command
# needs), and prints issue 23's table: medians of BENCH_RUNS runs of wall time, CPU and peak RSS.
# Takes several minutes; not part of test. bench-cli-old runs issue 9's validate/plan benchmarks.
BENCH_RUNS ?= 5
bench-cli:
	AVATAR_BENCH_RUNS=$(BENCH_RUNS) $(GO) test ./cmd/avatar-sync -run '^$$' -bench CLITable -benchtime 1x -timeout 60m

bench-cli-old:
	$(GO) test ./cmd/avatar-sync -run '^$$' -bench 'CLIValidate|CLIPlanNoop' -benchtime 10x -timeout 20m

# fuzz runs the spec loader's fuzz target for FUZZTIME (the corpus lives in spec/testdata/fuzz).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

# schema regenerates schema/avatar.schema.json and docs/avatar-yaml.md from spec's tables
# (tests fail while they are out of date).
schema:
	$(GO) test ./spec -run 'InSync' -count=1 -update

clean:
	rm -rf bin .avatar-sync
