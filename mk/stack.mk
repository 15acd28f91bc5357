# The running stack: make up / verify / down / images / stack-test [ENV=dev].
# Included by the Makefile (the lead's); usable alone: make -f mk/stack.mk up
ENV ?= dev
VENV ?= .venv
INFRA_GEN ?= $(VENV)/bin/infra-gen

.PHONY: images up down verify status logs stack-test stack-test-ha

images: ## build every image (cached layers reused; base image made first where none can be pulled)
	scripts/build-images.sh

up: ## start ENV (default dev): docker, images, render, secrets, compose up --wait, migrations
	$(INFRA_GEN) up $(ENV) $(UP_FLAGS)

down: ## stop ENV (volumes kept; infra-gen down ENV --volumes removes them)
	$(INFRA_GEN) down $(ENV)

verify: ## testinfra + HTTP + database checks against the running ENV
	$(INFRA_GEN) verify $(ENV)

status: ## every service and replica of ENV, with its health
	$(INFRA_GEN) status $(ENV)

logs: ## logs of ENV (SERVICE=api for one service or group)
	$(INFRA_GEN) logs $(ENV) $(SERVICE)

# A fresh clone has new secrets: volumes left by another checkout could not be
# logged into, so the test run replaces them (a plain `make up` refuses instead).
stack-test: ## up, verify, then down whatever verify said (exit status of up/verify)
	@$(MAKE) --no-print-directory up ENV=$(ENV) UP_FLAGS=--replace-stale-volumes && \
	  { $(MAKE) --no-print-directory verify ENV=$(ENV); rc=$$?; } || rc=$$?; \
	  $(MAKE) --no-print-directory down ENV=$(ENV); exit $$rc

# dev-ha is dev with a Redis replica and three Sentinels (same ports: after dev is
# down): its own stack, for the tests only Sentinels make possible (`redis_ha`).
stack-test-ha: ## up dev-ha, the Redis failover test under load, down
	@$(MAKE) --no-print-directory up ENV=dev-ha UP_FLAGS=--replace-stale-volumes && \
	  { $(INFRA_GEN) verify dev-ha -m redis_ha -rP; rc=$$?; } || rc=$$?; \
	  $(MAKE) --no-print-directory down ENV=dev-ha; exit $$rc
# The model registry (ml_registry): a one-off container of the ml service trains on
# fresh synthetic data, logs the run and registers a version; RETRAIN_FLAGS=--promote
# (the default) also points the alias at it, which the ML service loads within its
# poll interval, without a restart. `app-entrypoint retrain` is the same without make.
ML_SERVICE ?= ml
RETRAIN_FLAGS ?= --promote
DOCKER ?= $(shell test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)
.PHONY: retrain
retrain: ## train on fresh data, register a version in ENV's registry and promote it
	$(DOCKER) compose -f generated/$(ENV)/compose.yaml run --rm --no-deps -T $(ML_SERVICE) \
	  retrain $(RETRAIN_FLAGS)
