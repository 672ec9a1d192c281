# Operator Connect Pro upgrade service.
#
#   make run     the whole stack on 127.0.0.1 (installs what it needs on first use)
#   make test    every test, on a stack of its own (works beside a running make run)
#
# See README.md for the rest.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE := $(CURDIR)/.cache
export OCPRO_CACHE := $(CACHE)
export GOTOOLCHAIN := local

include infra/deps.mk
include bench.mk

# Each function lives in functions/<logical id without "Function", lower case>.
FUNCTIONS := UpgradeRequestsFunction InvitationEmailFunction ConsentCallbackFunction \
             TokenValidationFunction InvitationRemindersFunction
fn_dir = ./functions/$(shell echo '$(1)' | sed 's/Function$$//' | tr A-Z a-z)

# Exactly the flags AWS gets; only GOARCH differs for local builds, which must
# run on this machine.
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
GO_SOURCES := $(shell find functions internal -name '*.go' -not -name '*_test.go') go.mod go.sum

API_PORT ?= 3000
MAIL_PORT ?= 8005
OPERATOR ?= local-operator
FUZZTIME ?= 20s

.PHONY: help run test test-short lint generate fuzz demo token build local-build clean console console-test \
        $(addprefix build-,$(FUNCTIONS))

help:
	@echo "make run     start the whole stack locally (API on :$(API_PORT), mailbox on :$(MAIL_PORT))"
	@echo "make test    run every test (unit, DynamoDB Local, SES local, end to end, browser)"
	@echo "make demo    walk the flow against a running stack"
	@echo "make token   print a portal bearer token (OPERATOR=name for another operator)"
	@echo "make lint    gofmt, go vet, staticcheck, generated templ code up to date, the console's types"
	@echo "make console build the operator console (console/dist) if its sources changed"
	@echo "make generate  regenerate the Go code of the .templ files (pages and mails)"
	@echo "make fuzz    run every fuzz target for FUZZTIME each"
	@echo "make bench   binary sizes, cold starts, gateway overhead, warm-path benchmarks (see infra/bench/README.md)"

# sam build calls build-<LogicalId> with ARTIFACTS_DIR set.
$(addprefix build-,$(FUNCTIONS)): build-%:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap $(call fn_dir,$*)

# The same binaries for this machine, as the local stack runs them.
LOCAL_BOOTSTRAPS := $(foreach f,$(FUNCTIONS),$(CACHE)/build/$(f)/bootstrap)
local-build: $(LOCAL_BOOTSTRAPS)
$(CACHE)/build/%/bootstrap: $(GO_SOURCES)
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ $(call fn_dir,$*)

$(CACHE)/bin/stack: $(shell find infra -name '*.go' -not -name '*_test.go') go.mod
	go build -o $@ ./infra/cmd/stack

# The operator console (console/): npm ci installs exactly its lock file;
# the build generates the API types from openapi.yaml, type-checks and
# bundles into console/dist, which the local gateway serves under /console/.
CONSOLE_MODULES := console/node_modules/.package-lock.json
CONSOLE_DIST    := console/dist/index.html
CONSOLE_SOURCES := $(shell find console/src -type f -not -name '*.test.ts' -not -name 'schema.d.ts' 2>/dev/null) \
                   console/index.html console/vite.config.ts console/tsconfig.json openapi.yaml

$(CONSOLE_MODULES): console/package.json console/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "console: npm is missing (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	@echo "installing the console's toolchain (npm ci --prefix console) ..."
	@npm ci --prefix console --no-audit --no-fund --loglevel=error
	@touch "$@"

$(CONSOLE_DIST): $(CONSOLE_MODULES) $(CONSOLE_SOURCES)
	@echo "building the operator console ..."
	@cd console && npm run --silent build

console: $(CONSOLE_DIST)

# The console's unit tests (vitest).
console-test: $(CONSOLE_MODULES)
	cd console && npm run --silent generate && npx vitest run

# make run builds the console once, then again whenever a source changes
# while the stack runs (vite build --watch, stopped with the stack).
run: deps local-build $(CACHE)/bin/stack $(CONSOLE_DIST)
	@(cd console && exec node node_modules/vite/bin/vite.js build --watch --logLevel error --emptyOutDir false >/dev/null 2>&1) & \
	  watcher=$$!; trap 'kill $$watcher 2>/dev/null' EXIT; \
	  $(CACHE)/bin/stack -root $(CURDIR) -api-port $(API_PORT) -mail-port $(MAIL_PORT) -console $(CURDIR)/console/dist $(if $(VERBOSE),-verbose)

# Unit tests, DynamoDB Local and SES local tests, end-to-end tests through the
# real bootstraps and the browser tests. Each test binary starts the stand-ins
# it needs on free ports, so this works while a make run is up.
test: deps chromium console-test $(CONSOLE_DIST)
	OCPRO_REQUIRE_BROWSER=1 go test -count=1 -timeout 12m ./...

test-short:
	go test -short -count=1 ./...

lint: $(CACHE)/bin/staticcheck $(CACHE)/bin/templ $(CONSOLE_MODULES)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(CACHE)/bin/templ fmt -fail internal
	$(CACHE)/bin/templ generate -check -path internal
	go vet ./...
	$(CACHE)/bin/staticcheck ./...
	cd console && npm run --silent generate && npx tsc --noEmit

# The pages and mails are templ files compiled to Go, because executing a
# text/template or html/template switches off the linker's dead-method
# elimination and doubles a function's binary (infra/bench/README.md). The
# generated *_templ.go files are committed; lint fails when they are stale.
generate: $(CACHE)/bin/templ
	$(CACHE)/bin/templ fmt internal
	$(CACHE)/bin/templ generate -path internal

$(CACHE)/bin/staticcheck: tools/go.mod tools/go.sum
	cd tools && go build -o $@ honnef.co/go/tools/cmd/staticcheck

$(CACHE)/bin/templ: tools/go.mod tools/go.sum
	cd tools && go build -o $@ github.com/a-h/templ/cmd/templ

# Each fuzz target runs for FUZZTIME. Inputs that found new coverage are kept
# in the package's testdata/fuzz/<target> (at most FUZZKEEP new ones per run),
# so the seed corpus that plain go test replays grows with every run.
FUZZKEEP ?= 32
fuzz:
	@set -e; cache=$$(go env GOCACHE)/fuzz; \
	for pkg in $$(go list ./...); do \
	  for t in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	    src=$$cache/$$pkg/$$t; dst=$$(go list -f '{{.Dir}}' $$pkg)/testdata/fuzz/$$t; \
	    if [ -d "$$src" ]; then \
	      mkdir -p "$$dst"; n=0; \
	      for f in $$(ls -t "$$src"); do \
	        [ -e "$$dst/$$f" ] && continue; [ $$n -ge $(FUZZKEEP) ] && break; \
	        cp "$$src/$$f" "$$dst/$$f"; n=$$((n+1)); \
	      done; \
	      echo "  kept $$n new corpus entries in $${dst#$(CURDIR)/}"; \
	    fi; \
	  done; \
	done

token:
	@go run ./infra/cmd/token -env $(CACHE)/stack/env -operator '$(OPERATOR)'

demo:
	@go run ./infra/cmd/demo -env $(CACHE)/stack/env

clean:
	rm -rf $(CACHE)/build $(CACHE)/bin/stack console/dist
