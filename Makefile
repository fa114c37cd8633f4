# scalable-app: every target installs what it needs into .venv by itself.
# ENV picks environments/$(ENV).toml; `local` runs against the moto emulator on this machine.
ENV ?= local
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# $(call shown,COMMAND): echo COMMAND to stderr, then run it. The targets whose stdout may be a
# document for a machine (make plan OUTPUT=json) keep their stdout for it.
shown = @echo '$(1)' >&2; $(1)
# A recursive make says nothing of directories on stdout (it may be a JSON document). For a
# make -C from elsewhere, use make -s -C: make prints "Entering directory" before it reads this.
MAKEFLAGS += --no-print-directory

.DEFAULT_GOAL := help
.PHONY: help test lint fmt clean

help: ## List the targets and the variables they read
	@echo "Targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables (make deploy YES=1 STACK=registry ...):"
	@awk 'BEGIN {FS = " *#: "} /^# [A-Z_]+=.* #: / {sub(/^# /, "", $$1); printf "  %-23s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The virtualenv is rebuilt when it is missing or older than any requirements file.
$(VENV)/.installed: requirements.txt requirements-dev.txt service/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

venv: $(VENV)/.installed ## Create or refresh .venv

lint: $(VENV)/.installed ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(VENV)/.installed ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# ---- templates (issue 2) -------------------------------------------------------------
ENVIRONMENTS := $(basename $(notdir $(wildcard environments/*.toml)))
CHECKOV := $(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --compact --quiet
.PHONY: templates checkov test-templates golden bench-templates

templates: $(VENV)/.installed ## Generate build/<ENV>/*.json, then cfn-lint them all, on every core
	$(call shown,$(PY) generate.py --env $(ENV) --lint)

checkov: $(CHECKOV_VENV)/.installed templates ## checkov on build/<ENV>, offline; fails on any failed check
	$(CHECKOV) --directory build/$(ENV) --skip-path manifest.json

# checkov is run once per environment: given several --directory options, checkov 3.3 scans the
# first one again for each (its totals grow, the other environments are never read).
test-templates: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## cfn-lint + checkov on every environments/*.toml
	@set -e; for env in $(ENVIRONMENTS); do $(PY) generate.py --env $$env --lint; done
	@failed=; for env in $(ENVIRONMENTS); do \
		echo "checkov: build/$$env"; \
		$(CHECKOV) --directory build/$$env --skip-path manifest.json || failed="$$failed $$env"; \
	done; \
	if [ -n "$$failed" ]; then echo "checkov: failed checks in build/ of:$$failed" >&2; exit 1; fi

accepted-risks: $(VENV)/.installed ## Write the README's list of accepted risks from the templates' declarations
	$(PY) generate.py --accepted-risks

golden: $(VENV)/.installed ## Refresh tests/golden/ from the production environment (review the diff)
	UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_templates_golden.py

bench-templates: $(VENV)/.installed ## Time make templates, generation alone and cfn-lint alone
	$(PY) bench/templates.py --env $(ENV)

# ---- service (issue 3) ---------------------------------------------------------------
.PHONY: run image push push-assets test-service bench-health
# The image tag: the checkout's revision, spelled as generate.py spells it in the manifest.
GIT_REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
IMAGE := scalable-app

# The same arguments as the Dockerfile's CMD (tests/test_service_container.py checks it).
run: $(VENV)/.installed ## Serve the app from .venv on :8448, exactly as the container's CMD
	APP_VERSION=$(GIT_REVISION) $(PY) -m service service.app:app --host 0.0.0.0 --port 8448 --loop uvloop --http service.protocol:HealthFirstProtocol --no-access-log --no-proxy-headers --no-server-header --log-config service/logging.json --timeout-graceful-shutdown 20

image: ## Build the image scalable-app:<git revision> (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "make image: no Docker engine answers 'docker info'; start Docker to build the image (without Docker: make run)" >&2; exit 1; }
	@test -n "$(GIT_REVISION)" || { echo "make image: not a git checkout, no revision to tag the image with" >&2; exit 1; }
	docker build --build-arg GIT_REVISION=$(GIT_REVISION) --tag $(IMAGE):$(GIT_REVISION) .

push: $(VENV)/.installed ## Push scalable-app:<tag> and the static assets (after make templates, make image)
	$(PY) push.py --env $(ENV) --local-image $(IMAGE)

push-assets: $(VENV)/.installed ## Upload only the static assets to ENV's CDN bucket (no Docker needed)
	$(PY) push.py --env $(ENV) --assets-only

test-service: $(VENV)/.installed ## hadolint the Dockerfile (part of make test)
	$(VENV)/bin/hadolint Dockerfile

bench-health: $(VENV)/.installed ## Benchmark /_health vs bare ASGI vs Flask (needs wrk)
	$(PY) bench/health.py

# ---- deploy (issue 4) ----------------------------------------------------------------
.PHONY: plan deploy destroy follow cancel continue-rollback status rollback promote abort logs local-up local-stop test-deploy bench-deploy bench-concurrency bench-follow bench-progressive bench-drift
# ENV=local runs against moto's server on 127.0.0.1:$(LOCAL_AWS_PORT) (started if
# AWS_ENDPOINT_URL is unset and nothing answers there); other environments reach AWS through
# boto3's standard resolution (AWS_PROFILE, AWS_REGION...). The variables, as make help lists them:
# ENV=local              #: environments/<ENV>.toml (default local: the emulator on this machine)
# YES=1                  #: execute without asking (1, yes or true; 0, no, false or unset: ask)
# STACK=registry         #: only these stacks (STACK="registry static"); default: every stack
# SERVICE=api            #: only these services' stacks (SERVICE="api web"), plus the shared ones; status: only these; rollback, logs, promote, abort: the one
# CONCURRENCY=4          #: deploy, plan: stacks planned, applied and services checked at once (default 4)
# OUTPUT=json            #: text (default), json (stdout: one JSON document) or markdown
# DETAILED=1             #: make plan fails (exit 2) when something would change
# TIMEOUT=MINUTES        #: how long a stack operation is followed (default 60)
# NO_VERIFY=1            #: after the deploy, skip the alarm and paging checks
# REVERT_DRIFT=1         #: drift-aware change sets that put drifted resources back
# SKIP="LogicalId ..."   #: continue-rollback: resources left as they are
# LOCAL_AWS_PORT=5050    #: ENV=local: the emulator's port on 127.0.0.1
# FOLLOW=1 SINCE=10m     #: make logs: keep tailing; how far back to start (default 10m)
LOCAL_AWS_PORT ?= 5050
comma := ,
STACK_ARGS := $(foreach stack,$(subst $(comma), ,$(STACK)),--stack $(stack))
SERVICE_ARGS := $(foreach service,$(subst $(comma), ,$(SERVICE)),--service $(service))

# YES: only an explicit yes skips the confirmation; anything but the accepted words is refused
# (YES=0 must never execute without asking). Checked when a target that reads it is asked for.
lower = $(shell printf '%s' '$(subst ','',$(1))' | tr '[:upper:]' '[:lower:]')
YES_WORD := $(if $(strip $(YES)),$(call lower,$(strip $(YES))))
YES_FLAG := $(if $(filter 1 yes true,$(YES_WORD)),--yes)
YES_OK := $(if $(YES_WORD),$(and $(filter 1,$(words $(YES_WORD))),$(filter 1 yes true 0 no false,$(YES_WORD))),unset)
OUTPUTS := text json markdown
ifneq ($(filter plan deploy cancel rollback status destroy promote abort,$(MAKECMDGOALS)),)
ifeq ($(YES_OK),)
$(error YES=$(YES) is not understood: YES=1, yes or true executes without asking; 0, no, false or unset asks)
endif
ifneq ($(strip $(OUTPUT)),$(filter $(OUTPUTS),$(strip $(OUTPUT))))
$(error OUTPUT=$(OUTPUT) is not a form we print: OUTPUT=text (default), json or markdown)
endif
endif
DEPLOY_ARGS := $(YES_FLAG) $(if $(OUTPUT),--output $(OUTPUT)) \
	$(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(NO_VERIFY),--no-verify) \
	$(if $(REVERT_DRIFT),--revert-drift) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) \
	$(STACK_ARGS) $(SERVICE_ARGS)
# ENV=local goes through local_aws.py (the emulator, bootstrapped), which runs deploy.py with
# the same verb and options; elsewhere deploy.py itself.
DEPLOY := $(if $(filter local,$(ENV)),LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) $(PY) local_aws.py,$(PY) deploy.py)

# The exit contract. deploy.py (and local_aws.py, which passes its codes on) exits 0 on success
# or nothing to do, 1 on an error, 2 (plan) when something would change, 130 on Ctrl-C. make
# itself exits 0 when the command succeeded and 2 when it failed, whatever the command's code:
# so make plan exits 0 whether or not something would change, 2 on an error, and DETAILED=1
# turns "something would change" into a failure (2) as well, saying so on stderr. A script that
# must tell changes from errors runs the command itself: make templates, then
# .venv/bin/python deploy.py plan --env ENV (README, "Exit codes").
plan: templates ## Show the change sets of build/<ENV>, execute nothing (DETAILED=1: fail if changes)
	$(call shown,$(DEPLOY) plan --env $(ENV) $(DEPLOY_ARGS)); status=$$?; \
	if [ $$status -eq 2 ]; then \
		if [ -z "$(DETAILED)" ]; then exit 0; fi; \
		echo "make plan DETAILED=1: something would change" >&2; \
	fi; exit $$status

deploy: templates ## Plan, confirm, execute and follow every stack of ENV (YES=1: no prompt)
	$(call shown,$(DEPLOY) deploy --env $(ENV) $(DEPLOY_ARGS))

# YES=1 deletes without asking only when ENV is named on make's command line: a default (or an
# ENV exported by a shell) never destroys an environment unasked.
destroy: $(VENV)/.installed ## Delete ENV's stacks in reverse order once ENV's name is typed (SERVICE=x: its own)
	@if [ -n "$(YES_FLAG)" ] && [ "$(origin ENV)" != "command line" ]; then \
		echo "make destroy YES=1: name the environment on the command line (make destroy ENV=NAME YES=1)" >&2; exit 1; fi
	$(call shown,$(DEPLOY) destroy --env $(ENV) $(YES_FLAG) $(if $(OUTPUT),--output $(OUTPUT)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(SERVICE_ARGS))

follow: $(VENV)/.installed ## Follow ENV's stack operations under way to their end (STACK= one)
	$(call shown,$(DEPLOY) follow --env $(ENV) $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(STACK_ARGS))

cancel: $(VENV)/.installed ## Cancel an update under way (a running create: delete, asked first)
	$(call shown,$(DEPLOY) cancel --env $(ENV) $(YES_FLAG) $(STACK_ARGS))

continue-rollback: $(VENV)/.installed ## Continue a failed rollback (UPDATE_ROLLBACK_FAILED); SKIP="Id ..."
	$(call shown,$(DEPLOY) continue-rollback --env $(ENV) $(STACK_ARGS) $(foreach id,$(SKIP),--skip $(id)))

status: templates ## ENV's services on one screen: stacks, rollout, image, alarms, paging, URLs (SERVICE=x: its own)
	$(call shown,$(DEPLOY) status --env $(ENV) $(if $(OUTPUT),--output $(OUTPUT)) $(SERVICE_ARGS))

rollback: templates ## SERVICE=x back to the image it ran before, as a reviewed change set (YES=1: no prompt)
	$(call shown,$(DEPLOY) rollback --env $(ENV) $(YES_FLAG) $(if $(OUTPUT),--output $(OUTPUT)) $(if $(NO_VERIFY),--no-verify) $(SERVICE_ARGS))

# promote and abort answer one service's deployment: SERVICE is required, checked before anything runs.
promote: $(VENV)/.installed ## SERVICE=x's paused canary/blue-green deployment: CONTINUE (YES=1: no prompt)
	@if [ -z "$(strip $(SERVICE))" ]; then echo "make promote: name the service (make promote SERVICE=NAME)" >&2; exit 2; fi
	$(call shown,$(DEPLOY) promote --env $(ENV) $(YES_FLAG) $(if $(OUTPUT),--output $(OUTPUT)) $(SERVICE_ARGS))

abort: $(VENV)/.installed ## SERVICE=x's deployment under way: ROLLBACK (YES=1: no prompt)
	@if [ -z "$(strip $(SERVICE))" ]; then echo "make abort: name the service (make abort SERVICE=NAME)" >&2; exit 2; fi
	$(call shown,$(DEPLOY) abort --env $(ENV) $(YES_FLAG) $(if $(OUTPUT),--output $(OUTPUT)) $(SERVICE_ARGS))

logs: $(VENV)/.installed ## SERVICE=x's CloudWatch Logs, request lines readable (FOLLOW=1, SINCE=10m)
	$(call shown,$(DEPLOY) logs --env $(ENV) $(if $(FOLLOW),--follow) $(if $(SINCE),--since $(SINCE)) $(SERVICE_ARGS))

local-up: $(VENV)/.installed ## Start the local emulator (moto) in the background, PID in .local/
	LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) $(PY) local_aws.py up

local-stop: $(VENV)/.installed ## Stop the emulator that local-up or deploy started; its state is lost
	LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) $(PY) local_aws.py stop

test-deploy: $(VENV)/.installed ## The deployer's tests (moto over HTTP, Stubber for what moto lacks)
	$(PY) -m pytest -q tests/test_deploy*.py

bench-deploy: $(VENV)/.installed templates ## Time deploy.py vs aws cloudformation deploy on moto
	$(PY) bench/deploy.py --env $(ENV)

bench-concurrency: $(VENV)/.installed ## A first local deploy of ENV: CONCURRENCY (default 4) vs 1, HOLD=s per stack
	$(PY) bench/concurrency.py --env $(ENV) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) $(if $(HOLD),--hold $(HOLD))

bench-progressive: $(VENV)/.installed ## A scripted canary: start -> CONTINUE, ECS calls/min while following (~1 min)
	$(PY) bench/progressive.py

bench-follow: $(VENV)/.installed ## Follower: latency after a stack settles, CloudFormation calls/min (~1 min)
	$(PY) bench/follow.py

bench-drift: $(VENV)/.installed ## What drift detection adds to a plan: on moto, and on an AWS-like slow detection
	$(PY) bench/drift.py

# ---- ci (issue 10) ---------------------------------------------------------------------
.PHONY: lint-workflows
WORKFLOWS := $(wildcard .github/workflows/*.yml)

# All run offline: zizmor's audits that need GitHub's API are skipped by --offline; the
# workflow schema is the copy check-jsonschema ships; actionlint needs no network. Each runs
# whatever the others found, so one run shows every complaint.
lint-workflows: $(VENV)/.installed ## Lint .github/workflows: GitHub's schema, actionlint, then zizmor's security audits
	@failed=; \
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS) \
		|| failed="$$failed schema"; \
	$(VENV)/bin/actionlint -no-color $(WORKFLOWS) || failed="$$failed actionlint"; \
	$(VENV)/bin/zizmor --offline --no-progress $(WORKFLOWS) || failed="$$failed zizmor"; \
	if [ -n "$$failed" ]; then echo "lint-workflows: failed:$$failed" >&2; exit 1; fi

# ---- test: everything CI runs ----------------------------------------------------------
test: $(VENV)/.installed ## ruff, the workflow lint, cfn-lint + checkov on each environment, hadolint, the tests
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-workflows
	$(MAKE) --no-print-directory test-templates
	$(MAKE) --no-print-directory test-service
	$(PY) -m pytest -q

clean: ## Remove build output (keeps .venv)
	rm -rf build
