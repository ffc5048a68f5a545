# wasmcanvas build. `make test` is what CI runs (see .ci/run).
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/wasmcanvas/wasmcanvas/pkg/version.Version=$(VERSION)

# The runtime is cgo (wasmtime's C API, declared in
# pkg/runtime/internal/cm/wasmtime_api.h, linked by wasmtime-go).
export CGO_ENABLED = 1

# Fuzz targets: package:FuzzName, each run for FUZZTIME by `make fuzz`.
FUZZTIME ?= 10s
FUZZ_TARGETS ?= \
	./pkg/oda:FuzzDecode \
	./pkg/oda:FuzzValidate \
	./pkg/translate:FuzzTranslate \
	./pkg/wadm:FuzzParseManifest \
	./pkg/oda:FuzzParseKey \
	./pkg/lattice:FuzzConfigURLs \
	./pkg/gateway:FuzzRoutes \
	./pkg/client:FuzzReadSSE \
	./pkg/runtime:FuzzKeyEncoding \
	./pkg/artefact:FuzzRead \
	./pkg/wrpc/wire:FuzzDecode \
	./pkg/bridge:FuzzReadHostData \
	./pkg/bridge/identityrpc:FuzzDecode \
	./pkg/identity:FuzzVerify \
	./pkg/identity:FuzzParseRoleAnswers \
	./pkg/oda:FuzzPlacement \
	./pkg/gateway/policy:FuzzDecode \
	./pkg/gateway/policy:FuzzForAPI \
	./pkg/runtime/internal/compose:FuzzRead \
	./pkg/runtime/internal/compose:FuzzPack \
	./pkg/kubeapi:FuzzApplyPatchBody \
	./pkg/node:FuzzControlRequest \
	./pkg/latticeadmin:FuzzDecode \
	./pkg/migrate:FuzzRead \
	./pkg/edge:FuzzOpen \
	./pkg/wadm:FuzzDecodeReply \
	./pkg/api:FuzzTMFQuery \
	./pkg/node:FuzzWasmLayer

.PHONY: all build bridge-par e2e-deps identity-deps kube-deps migrate-deps test unit lint fuzz bench e2e race demo examples components wit clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/canvas, bin/canvasd, bin/canvas-bridge
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The provider archive of canvas-bridge: a static binary for this platform,
# signed with the keys in PAR_KEYS (created 0600 when absent, never printed;
# keep the file to sign later versions with the same identity).
PAR_KEYS ?= $(BIN)/par/keys/canvas-bridge.nk

bridge-par: ## package canvas-bridge as a wasmCloud provider archive: bin/canvas-bridge.par.gz
	@mkdir -p $(BIN)/par
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/par/canvas-bridge ./cmd/canvas-bridge
	$(BIN)/par/canvas-bridge pack --out $(BIN)/canvas-bridge.par.gz --keys $(PAR_KEYS)

lint: ## go vet + gofmt must be clean
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit: ## the Go tests (bounded); tests that load the built example must find it
	WASMCANVAS_REQUIRE_EXAMPLES=1 $(GO) test -count=1 -timeout 9m ./...

test: lint examples wit identity-deps unit race ## lint, build the example component, parse wit/, all tests, the runtime under -race: what CI runs

# The identity tests verify tokens of a real OpenID Provider no one here
# wrote (npm oidc-provider, pinned in its package-lock.json); the test fails
# when node is present and this install is missing.
OIDC_PROVIDER_DIR := pkg/identity/testdata/oidc-provider
identity-deps: ## npm oidc-provider for pkg/identity's hostile-token table (npm ci, when missing)
	@test -f $(OIDC_PROVIDER_DIR)/node_modules/oidc-provider/package.json || (cd $(OIDC_PROVIDER_DIR) && npm ci --no-audit --no-fund)

fuzz: ## run each fuzz target for FUZZTIME (corpus kept in testdata/fuzz/)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: ## benchmarks that print ratios measured in one run
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=1 ./pkg/...

e2e: build examples components e2e-deps kube-deps migrate-deps ## long, bounded end-to-end runs: quick start, 50 restarts served at once, crash, 100k-instance leak, JS component, secured lattice with edge sites, canvas node on two edge sites, Prometheus scraping a Component, one OTLP trace through a JS Component, kubectl and client-go against the kube API, a migration round trip through a Kubernetes CRD API server
	$(GO) test -p 1 -count=1 -tags e2e -timeout 30m ./e2e/... ./pkg/runtime/...

e2e-deps: ## what the e2e runs need beyond Go and npm: Debian's prometheus (installed when missing)
	@command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

migrate-deps: ## what the migration e2e needs: Debian's etcd and k8s.io/apiextensions-apiserver (bin/; each installed when missing)
	@command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server; }
	@test -x $(BIN)/apiextensions-apiserver || (mkdir -p $(BIN) && GOBIN=$(abspath $(BIN)) GOFLAGS= $(GO) install k8s.io/apiextensions-apiserver@v0.37.2)

KUBECTL_VERSION = -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37

kube-deps: ## kubectl for the kube API e2e: bin/kubectl built from k8s.io/kubectl (Go module proxy, its own module in internal/tools/kubectl) when missing
	@test -x bin/kubectl || { cd internal/tools/kubectl && $(GO) build -ldflags "$(KUBECTL_VERSION)" -o ../../../bin/kubectl . ; }

race: ## the cgo runtime, the deployer, the gateway and the lifecycles under the race detector with cgo pointer checks
	GODEBUG=cgocheck=1 $(GO) test -race -count=1 -timeout 8m ./pkg/runtime/... ./pkg/deploy/local/ ./pkg/gateway/ ./pkg/service/ ./pkg/up/ ./pkg/daemon/

demo: build examples ## the README quick start, for real: canvas up, apply, curl, down
	./scripts/demo.sh

examples: examples/productcatalog/build/productcatalog.wasm ## build the example ODA component from source (node >= 20, npm)

examples/productcatalog/build/productcatalog.wasm: $(shell find examples/productcatalog/src examples/productcatalog/wit -type f 2>/dev/null) examples/productcatalog/package-lock.json examples/productcatalog/build.sh wit/observe.wit wit/identity.wit
	SKIP_TESTS=1 examples/productcatalog/build.sh

wit: ## parse every world in wit/ with jco (pkg/observe's tests check the Go types against it)
	scripts/check-wit.sh

# What every JS test component builds with (examples/components).
JS_COMPONENT_SCRIPTS := examples/components/preopen.mjs examples/components/wasi-wit.sh

components: examples/components/hello-js/dist/hello-js.wasm examples/components/traced-js/dist/traced-js.wasm ## build the JS test components (hello-js for the runtime, traced-js for the trace e2e)

examples/components/hello-js/dist/hello-js.wasm: $(shell find examples/components/hello-js/src examples/components/hello-js/wit -type f 2>/dev/null) examples/components/hello-js/package-lock.json $(JS_COMPONENT_SCRIPTS)
	sh examples/components/hello-js/build.sh

examples/components/traced-js/dist/traced-js.wasm: $(shell find examples/components/traced-js/src examples/components/traced-js/wit -type f 2>/dev/null) examples/components/traced-js/package-lock.json $(JS_COMPONENT_SCRIPTS) wit/observe.wit
	sh examples/components/traced-js/build.sh

clean:
	rm -rf $(BIN)
