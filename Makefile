# phasestack: `make demo` shows the tool, `make test` runs the whole suite (what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CHECKOV_VENV := .checkov-venv
# Debian packages the integration tests start for real (DESIGN.md, "Facts learned")
# (and what toolchain/pgbouncer.sh builds PgBouncer 1.21+ with where Debian ships an older one;
# toolchain/alertmanager.sh builds Alertmanager 0.35 with Go, Debian's 0.25 lacks url_file;
# toolchain/prometheus.sh the image's Prometheus 3.16.0, Debian's 2.42 lacks Kubernetes SD;
# toolchain/valkey.sh the image's Valkey 9.1.2 from Debian's source, bookworm's redis 7.0 is past
# maintenance; toolchain/s3server.sh versitygw, the S3 server the backup tests archive to)
# (barman-cli-cloud: the Barman Cloud tools CloudNativePG uses, for the PITR test; awscli: the
# AWS CLI the Redis snapshot CronJob's upload container runs, for the snapshot test)
# (postgresql: the major this Debian release ships, 15 on bookworm, 17 on trixie)
DEB_PACKAGES := nginx-light postgresql postgresql-client pgbouncer wrk barman-cli-cloud awscli \
                curl gcc make pkg-config libevent-dev libssl-dev
DEB_BINARIES := /usr/sbin/nginx /usr/lib/postgresql/*/bin/postgres /usr/sbin/pgbouncer \
                /usr/bin/wrk /usr/bin/barman-cloud-backup /usr/bin/aws \
                /usr/bin/curl /usr/bin/gcc /usr/bin/make /usr/bin/pkg-config \
                /usr/include/event2/event.h /usr/include/openssl/ssl.h

.PHONY: demo test install install-test system-deps checkov lint clean toolchain e2e capacity

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# An editable install compiles nothing; the CLI then compiles every module on every run where
# PYTHONDONTWRITEBYTECODE is set (this machine sets it): compile once here (issue 17).
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m compileall -q phasestack

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q phasestack

demo: install
	$(BIN)/phasestack stacks
	@echo
	$(BIN)/phasestack plan phase2

# apt-get only when a server binary is missing (root, as on CI and these machines).
system-deps:
	@missing=""; for b in $(DEB_BINARIES); do [ -e $$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    $(DEB_PACKAGES) >/dev/null; \
	fi

# checkov lives in its own virtualenv (its pins clash with ours) and runs offline.
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov

checkov: $(CHECKOV_VENV)/bin/checkov

lint: install-test
	$(BIN)/ruff check .

test: install-test system-deps checkov
	$(BIN)/ruff check .
	toolchain/cnpg.sh >/dev/null  # the vendored CloudNativePG manifest is its Go module's
	pgbouncer=$$(toolchain/pgbouncer.sh) && alertmanager=$$(toolchain/alertmanager.sh) && \
	  prometheus=$$(toolchain/prometheus.sh) && valkey=$$(toolchain/valkey.sh) && \
	  s3=$$(toolchain/s3server.sh) && \
	PHASESTACK_PGBOUNCER=$$pgbouncer PHASESTACK_ALERTMANAGER_BIN=$$alertmanager \
	  PHASESTACK_PROMETHEUS_BIN=$$prometheus PHASESTACK_VALKEY_BIN=$$valkey PHASESTACK_S3_BIN=$$s3 \
	  PHASESTACK_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov \
	  $(BIN)/python -m pytest -q

# The planner's capacities measured on this host (issue 17; README "Measured capacities"):
# `make capacity ARGS="--json calibration.json"` writes what `phasestack plan --calibration` reads.
capacity: install-test system-deps
	PHASESTACK_PGBOUNCER=$$(toolchain/pgbouncer.sh) PHASESTACK_VALKEY_BIN=$$(toolchain/valkey.sh) \
	  $(BIN)/python -m benchmarks.capacity $(ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build *.egg-info out

# The real engine (issue 10, docs/e2e.md): pulumi, the kubernetes provider plugin and a
# Kubernetes control plane with kwok's simulated nodes, built from the Go module proxy at the
# pins in toolchain/versions.env into ~/.cache/phasestack/toolchain (seconds once built).
E2E_BINARIES := pulumi pulumi-resource-kubernetes kwokctl kwok etcd kube-apiserver \
                kube-controller-manager kube-scheduler kubectl

toolchain:
	toolchain/build.sh

# Binaries already on PATH (the official installers) are used as they are; otherwise the
# pinned toolchain is built or taken from its cache. The CloudNativePG operator runs on this
# host against the e2e cluster (tests/e2e/cnpg_operator.py; toolchain/cnpg-operator.sh).
e2e: install-test
	@missing=""; for b in $(E2E_BINARIES); do command -v $$b >/dev/null || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  echo "e2e: not on PATH:$$missing; using the pinned toolchain (make toolchain)"; \
	  bin=$$(toolchain/build.sh | tail -n 1) || exit 1; \
	else bin=""; fi; \
	cnpg=$$(toolchain/cnpg-operator.sh | tail -n 1) || exit 1; \
	PHASESTACK_TOOLCHAIN_BIN=$$bin PHASESTACK_CNPG_OPERATOR_BIN=$$cnpg \
	  $(BIN)/python -m pytest -q tests/e2e $(E2E_ARGS)

# Local cluster (kind/, stacks/Pulumi.kind.yaml; README "Local cluster with kind"). Needs docker,
# kind and kubectl. DEPLOY=pulumi uses `pulumi up --stack kind` instead of render + kubectl.
KIND_CLUSTER := phasestack
KIND_STACK   := kind
KIND_NS      := ps-kind
KUBECTL      := kubectl --context kind-$(KIND_CLUSTER)
DEPLOY       ?= kubectl

.PHONY: kind-up kind-down

kind-up: install
	kind create cluster --config kind/cluster.yaml --name $(KIND_CLUSTER) --wait 180s
	$(KUBECTL) apply -k kind/metrics-server
	$(KUBECTL) -n kube-system rollout status deployment/metrics-server --timeout=180s
ifeq ($(DEPLOY),pulumi)
	pulumi stack select --create $(KIND_STACK)
	pulumi up --stack $(KIND_STACK) --yes
else
	$(BIN)/phasestack render $(KIND_STACK) --out out/$(KIND_STACK)
	@# the render's prerequisite: the CloudNativePG operator (the kind stack is phase2)
	$(BIN)/phasestack cnpg-operator | $(KUBECTL) apply --server-side -f -
	$(KUBECTL) -n cnpg-system rollout status deployment/cnpg-controller-manager --timeout=300s
	$(KUBECTL) apply -f out/$(KIND_STACK)/00-namespace.yaml
	$(KUBECTL) apply -f out/$(KIND_STACK)/
endif
	$(KUBECTL) -n $(KIND_NS) wait --for=condition=complete job/redis-cluster-bootstrap --timeout=600s
	@# every workload ready, not just the Job: an image that cannot be pulled fails here (issue 15)
	for w in $$($(KUBECTL) -n $(KIND_NS) get deployments,statefulsets -o name); do \
	  $(KUBECTL) -n $(KIND_NS) rollout status $$w --timeout=600s || exit 1; done
	$(KUBECTL) -n $(KIND_NS) get pods -o wide

kind-down:
	kind delete cluster --name $(KIND_CLUSTER)
