# The local multi-node swarm (TEST SCAFFOLDING, docs/swarm.md): make swarm-up,
# swarm-images, swarm-deploy, swarm-test, swarm-down [SWARM_ENV=swarm].
# Included by the Makefile. Whole runs hold $(SWARM_LOCK) (never the dev stack's
# lock: the two use distinct names, networks and ports and may run together).
SWARM_ENV ?= swarm
SWARM_LOCK ?= $(if $(wildcard /work),/work/swarm.lock,$(or $(TMPDIR),/tmp)/infra-gen-swarm.lock)
SWARM_REGISTRY_PORT ?= 15000
VENV ?= .venv
INFRA_GEN ?= $(VENV)/bin/infra-gen

.PHONY: swarm-up swarm-down swarm-images swarm-deploy swarm-status swarm-test

swarm-up: install docker ## 3 dind nodes + bastion + registry, swarm formed, nodes labelled from the model
	REGISTRY_PORT=$(SWARM_REGISTRY_PORT) SWARM_ENV=$(SWARM_ENV) scripts/swarm-up.sh

swarm-down: ## remove every infra-gen-swarm-* container, volume and the network
	scripts/swarm-down.sh

swarm-images: install images ## build the images and push them to the cluster's registry
	$(INFRA_GEN) push $(SWARM_ENV) --via 127.0.0.1:$(SWARM_REGISTRY_PORT)

swarm-deploy: install ## infra-gen deploy over SSH through the bastion
	$(INFRA_GEN) deploy $(SWARM_ENV)

swarm-status: install
	$(INFRA_GEN) status $(SWARM_ENV)

# up, images, tests/swarm (deploy, scale, rolling update, broken image), down.
swarm-test: install-test ## the whole swarm test under $(SWARM_LOCK)
	flock $(SWARM_LOCK) bash -c '$(MAKE) --no-print-directory swarm-up swarm-images && \
	  { $(VENV)/bin/pytest -q -s tests/swarm; rc=$$?; }; \
	  $(MAKE) --no-print-directory swarm-down; exit $$rc'
