# avatar-sync build and test entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
# -race roughly doubles test time; CI has the budget for it on 2 cores.
TESTFLAGS ?= -race -count=1 -timeout 12m
BIN       ?= bin/avatar-sync
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Every date in a build is the commit's (reproducible builds: same commit, same bytes).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 1)
DATE      ?= $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r $(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   ?= -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: all build test test-quick test-k8s kube-apiserver vet lint bench bench-cli bench-cli-100k bench-cli-old bench-k8s fuzz schema clean image release

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/avatar-sync

# static-build builds a static, path-free binary for platform $(1) (os/arch) into $(2).
static-build = CGO_ENABLED=0 GOOS=$(word 1,$(subst /, ,$(1))) GOARCH=$(word 2,$(subst /, ,$(1))) \
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(2) ./cmd/avatar-sync

# image writes the watch daemon's OCI image (issue 25) without Docker: static binaries for
# IMAGE_PLATFORMS in one image index, the host's CA certificates, user 65532, OCI labels; all
# timestamps are the commit's, so the same commit gives the same digest. Tagged
# $(IMAGE_NAME):$(VERSION), the image `render` names for a binary of the same version.
# Load it with `microk8s images import < bin/image.tar` (docs/watch.md).
IMAGE_NAME      ?= ghcr.io/avatar-project/avatar-sync
IMAGE_TAR       ?= bin/image.tar
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_BIN_DIR   ?= bin/image
CA_CERTS        ?= /etc/ssl/certs/ca-certificates.crt
SOURCE_URL      ?= https://github.com/avatar-project/avatar-sync
image:
	@$(foreach p,$(IMAGE_PLATFORMS),echo "build $(p)" && $(call static-build,$(p),$(IMAGE_BIN_DIR)/$(subst /,-,$(p))/avatar-sync) &&) true
	$(GO) run ./tools/ship image -o $(IMAGE_TAR) -name $(IMAGE_NAME) -version $(VERSION) -revision $(COMMIT) \
		-source $(SOURCE_URL) -created $(SOURCE_DATE_EPOCH) -ca $(CA_CERTS) \
		$(foreach p,$(IMAGE_PLATFORMS),$(p)=$(IMAGE_BIN_DIR)/$(subst /,-,$(p))/avatar-sync)

# release writes RELEASE_DIR/avatar-sync-<version>-<os>-<arch> for RELEASE_PLATFORMS (version,
# commit and date stamped: `avatar-sync version -o json`), a CycloneDX SBOM of each binary's Go
# modules (<binary>.cdx.json, from its build information) and SHA256SUMS (`sha256sum -c`).
RELEASE_DIR       ?= bin/release
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64
release:
	rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	@$(foreach p,$(RELEASE_PLATFORMS),echo "build $(p)" && $(call static-build,$(p),$(RELEASE_DIR)/avatar-sync-$(VERSION)-$(subst /,-,$(p))) &&) true
	$(GO) run ./tools/ship release -dir $(RELEASE_DIR) -version $(VERSION) -created $(SOURCE_DATE_EPOCH) \
		$(foreach p,$(RELEASE_PLATFORMS),$(RELEASE_DIR)/avatar-sync-$(VERSION)-$(subst /,-,$(p)))

vet:
	$(GO) vet $(PKGS)

# The vendored embedded cluster is a module of its own (third_party/kfake/go.mod), so ./... does
# not reach its tests of our patches (PATCHES.md): they run here too.
test: vet
	$(GO) test $(TESTFLAGS) $(PKGS)
	cd third_party/kfake && $(GO) test $(TESTFLAGS) ./

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
# BENCH_ROWS (a regular expression) keeps only the rows it matches: BENCH_ROWS='config change' make bench-cli.
BENCH_RUNS ?= 5
BENCH_ROWS ?=
bench-cli:
	AVATAR_BENCH_RUNS=$(BENCH_RUNS) AVATAR_BENCH_ROWS='$(BENCH_ROWS)' $(GO) test ./cmd/avatar-sync -run '^$$' -bench CLITable -benchtime 1x -timeout 60m

# bench-cli-100k: issue 23's scale row (100,000 topics, one file and a directory); creating the
# topics takes minutes.
bench-cli-100k:
	AVATAR_BENCH_RUNS=$(BENCH_RUNS) $(GO) test ./cmd/avatar-sync -run '^$$' -bench CLIHundredThousand -benchtime 1x -timeout 60m

bench-cli-old:
	$(GO) test ./cmd/avatar-sync -run '^$$' -bench 'CLIValidate|CLIPlanNoop' -benchtime 10x -timeout 20m

# bench-k8s counts the Kubernetes plane's API requests against kubectl's on the same objects, from
# the audit log of an API server of its own (issue 23): `plan` vs `kubectl diff --server-side`,
# `apply` of one image change vs `kubectl apply --server-side`. Figures: docs/benchmarks.md.
bench-k8s: kube-apiserver
	$(GO) test -tags kubeapiserver ./cmd/avatar-sync -run '^$$' -bench KubeRequests -benchtime 1x -v -timeout 10m

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
