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

.PHONY: help run test test-short lint lint-aws build-all console-upload generate fuzz demo token build local-build clean console console-test \
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

# Every function exactly as sam build builds it (linux/arm64, the target
# above), into .cache/sam/<LogicalId>/bootstrap: CI runs it, so a function
# that does not build for AWS fails there and not at deploy time.
build-all:
	@for f in $(FUNCTIONS); do \
	  $(MAKE) --no-print-directory build-$$f ARTIFACTS_DIR=$(CACHE)/sam/$$f || exit 1; \
	done

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

# Uploads the console's build to the stack's bucket, under console/ where
# the distribution's /console/* behaviour reads it: hashed assets cached for
# a year (a new build is new names; old ones stay for pages still open),
# index.html and config.json never. config.json holds what the build cannot
# know: the console's app registration, the operator's tenant and the scope.
# Needs the AWS CLI and credentials for the stack's account.
console-upload: $(CONSOLE_DIST)
	@for v in CONSOLE_BUCKET CONSOLE_CLIENT_ID CONSOLE_AUTHORITY CONSOLE_SCOPE; do \
	  [ -n "$${!v:-}" ] || { echo "console-upload: set $$v (README: Deploy)" >&2; exit 1; }; done
	@command -v aws >/dev/null 2>&1 || { echo "console-upload: the AWS CLI is missing" >&2; exit 1; }
	@mkdir -p $(CACHE)/console-upload
	@printf '{"clientId":"%s","authority":"%s","scope":"%s"}\n' "$$CONSOLE_CLIENT_ID" "$$CONSOLE_AUTHORITY" "$$CONSOLE_SCOPE" >$(CACHE)/console-upload/config.json
	aws s3 sync console/dist/assets s3://$$CONSOLE_BUCKET/console/assets --cache-control 'public, max-age=31536000, immutable'
	aws s3 cp $(CACHE)/console-upload/config.json s3://$$CONSOLE_BUCKET/console/config.json --cache-control no-store --content-type application/json
	aws s3 sync console/dist s3://$$CONSOLE_BUCKET/console --exclude 'assets/*' --exclude config.json --cache-control no-cache

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
	OCPRO_REQUIRE_BROWSER=1 go test $(GOTESTFLAGS) -count=1 -timeout 14m ./...

test-short:
	go test -short -count=1 ./...

lint: $(CACHE)/bin/staticcheck $(CACHE)/bin/templ $(CONSOLE_MODULES) lint-aws
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(CACHE)/bin/templ fmt -fail internal
	$(CACHE)/bin/templ generate -check -path internal
	go vet ./...
	$(CACHE)/bin/staticcheck ./...
	cd console && npm run --silent generate && npx tsc --noEmit

# The template and the API description, checked by AWS's own tools and an
# independent OpenAPI validator. cfn-lint fails on any finding, warnings and
# informational ones (-c I: not checked by default) included; it runs on template.yaml, on the
# CloudFormation the SAM translator makes of it (the generated roles and
# their IAM action names are only checked there) and on the WAF stack.
# cfn-lint and aws-sam-translator come from pip (CI machines have them);
# the validator is pinned by tools/lint/package-lock.json.
LINT_MODULES := tools/lint/node_modules/.package-lock.json
OPENAPI_VALIDATE := tools/lint/node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js

$(LINT_MODULES): tools/lint/package.json tools/lint/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "lint: npm is missing (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	@npm ci --prefix tools/lint --no-audit --no-fund --loglevel=error
	@touch "$@"

lint-aws: $(LINT_MODULES)
	@command -v cfn-lint >/dev/null 2>&1 || { echo "lint: cfn-lint is missing (pip install cfn-lint==1.51.0 aws-sam-translator==1.110.0)" >&2; exit 1; }
	@python3 -c 'import samtranslator' 2>/dev/null || { echo "lint: aws-sam-translator is missing (pip install aws-sam-translator==1.110.0)" >&2; exit 1; }
	@mkdir -p $(CACHE)/lint
	cfn-lint -c I --non-zero-exit-code informational template.yaml infra/cfn/waf.yaml
	python3 infra/cfn/translate.py template.yaml $(CACHE)/lint/template.json
	cfn-lint -c I --non-zero-exit-code informational $(CACHE)/lint/template.json
	@grep -q '^openapi: 3\.1\.' openapi.yaml || { echo "lint: openapi.yaml is not OpenAPI 3.1" >&2; exit 1; }
	@node $(OPENAPI_VALIDATE) openapi.yaml >$(CACHE)/lint/openapi.json || { cat $(CACHE)/lint/openapi.json; echo "lint: openapi.yaml is not valid OpenAPI 3.1" >&2; exit 1; }
	@echo "openapi.yaml: valid OpenAPI 3.1"

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
