# The runner, the apps it deploys, and the infrastructure, in one repository.
#   make demo            the whole story locally (no accounts needed); KEEP=1 leaves the dashboard up
#   make test            every test suite (what CI runs)
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/gitops-runner
TERRAFORM ?= $(CACHE)/tf/1.5.7/terraform
export RUNNER_TERRAFORM_BIN ?= $(TERRAFORM)
export PATH := $(CACHE)/tf/1.5.7:$(CACHE)/bin:$(PATH)

.PHONY: all build test tools test-tools test-go test-unit test-e2e test-apps test-metrics test-dashboard validate-infra lint bench bench-repo demo docker image clean

all: build

build:
	@scripts/heartbeat.sh "building the runner (go build: a few minutes the first time on 2 cores, seconds after)" \
		go build -o bin/runner ./cmd/runner
	go build -o bin/runner-sandbox ./cmd/runner-sandbox

## tools: terraform 1.5.7, tflint, tfsec and gotestsum, built with go install into $(CACHE) (cached)
tools:
	scripts/install-tools.sh

## test: everything CI checks
test: tools lint test-metrics test-go test-tools test-apps test-dashboard validate-infra

lint:
	@echo "== gofmt / go vet"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@echo "== go mod tidy -diff"
	go mod tidy -diff
	cd tools && go mod tidy -diff
	go vet ./...
	go vet -tags e2e ./internal/server/ ./internal/demo/ ./internal/selfimage/
	go vet -tags browser ./internal/web/
	go run ./cmd/runner validate .

# gotestsum prints one line per package and the failures; testsummary then the totals and each skip
# with its reason. The target fails when gotestsum or the summary saw a failed test.
GOTESTSUM = gotestsum --format pkgname-and-test-fails --format-hide-empty-pkg
TESTSUMMARY = go run ./scripts/testsummary

## test-go: the runner's unit tests and the end-to-end suites (build tag e2e: the real runner
## with real git, Terraform, registry and the stand-ins)
test-go:
	@echo "== go test -race -tags e2e ./..."
	@mkdir -p build && scripts/install-tools.sh gotestsum >/dev/null
	@status=0; $(GOTESTSUM) --jsonfile build/test-go.json -- -race -count=1 -timeout 30m -tags e2e ./... || status=$$?; \
		$(TESTSUMMARY) build/test-go.json || status=1; exit $$status

## test-unit: the quick default run (no end-to-end suites)
test-unit:
	go test -count=1 ./...

## test-tools: the schema-replay provider (its own module)
test-tools:
	@mkdir -p build && scripts/install-tools.sh gotestsum >/dev/null
	cd tools && go vet ./...
	@status=0; (cd tools && $(GOTESTSUM) --jsonfile ../build/test-tools.json -- -race -count=1 ./...) || status=$$?; \
		$(TESTSUMMARY) build/test-tools.json || status=1; exit $$status

test-apps:
	scripts/test-apps.sh

## test-metrics: promtool on the alerting rules and on a scrape (installs promtool when missing; before
## test-go, whose end-to-end scrapes after a deploy and after the demo are checked by promtool too)
test-metrics:
	scripts/check-metrics.sh

## test-dashboard: the dashboard's browser suite (tests/dashboard: playwright-core and Debian's Chromium,
## installed with apt when missing), against the real pages over a seeded store; screenshots in build/dashboard-e2e/
test-dashboard:
	cd tests/dashboard && npm ci --no-audit --no-fund
	go test -race -count=1 -tags browser -run TestBrowser ./internal/web/

validate-infra:
	scripts/validate-infra.sh

## bench: the benchmarks quoted in the closing notes (./bench/ includes BenchmarkGitMirror, which
## generates the bench-repo below first when it is not cached)
bench: bench-repo
	go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/
	go test -run '^$$' -bench . -benchtime 9x ./internal/image/...
	RUNNER_TF_BENCH=1 go test -count=1 -run TestPlanTimings -v ./internal/tf/

## bench-repo: the large generated monorepo of BenchmarkGitMirror (30,000 commits, 5,000 files, 1,300 refs,
## a 244 MB pack), deterministic, in ~/.cache/gitops-runner/bench-repo/platform.git (where the benchmark looks);
## 30-45 s the first time, then cached
bench-repo:
	go run ./bench/bigrepo/cmd/bigrepo

## demo: KEEP=1 leaves the runner and its dashboard up after the story, until Ctrl-C
demo: build
	scripts/install-tools.sh terraform
	./bin/runner demo$(if $(KEEP), -keep)

# The runner's image without a Docker daemon (runner build-self): an OCI layout in build/image. Terraform is
# the pinned version built from its module source (checksum-verified); add --push REF to push it.
image:
	go run ./cmd/runner build-self --out build/image

docker:
	docker build -t gitops-runner .

clean:
	rm -rf bin build
