# make bench: the performance table, measured against a minimal
# aws-lambda-go handler in the same run (infra/bench/README.md says how to
# read it). Writes the table to stdout and $(CACHE)/bench/latest.md, and
# $(CACHE)/bench/latest.json for scripts; progress goes to stderr.
#
# Included by the top-level Makefile after infra/deps.mk, which defines CACHE,
# LAMBDA_RIE and DYNAMODB_LOCAL_JAR.
#
#   BENCH_GO=0          skip the go test benchmarks (they need DynamoDB Local)
#   BENCH_STARTS=20     cold starts per function (at least 20 for the table)
#   BENCH_PACKAGES=...  go test patterns whose benchmarks are collected

BENCH_GO       ?= 1
BENCH_STARTS   ?= 20
BENCH_PACKAGES ?= ./internal/...

bench_go_on := $(filter 1,$(BENCH_GO))

.PHONY: bench

bench: $(LAMBDA_RIE) $(if $(bench_go_on),$(DYNAMODB_LOCAL_JAR))
	@go run ./infra/cmd/bench -root '$(CURDIR)' -out '$(CACHE)/bench' -rie '$(LAMBDA_RIE)' \
	  -starts $(BENCH_STARTS) -go=$(if $(bench_go_on),true,false) -packages '$(BENCH_PACKAGES)'
