# songmaytinh — the two commands a newcomer needs: `make demo` and `make test`.
# Bootstrap: Python 3.11 + pip + make are enough; uv is installed with pip when missing and the
# environment is synced from uv.lock (never re-resolved).
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
export UV_PYTHON_DOWNLOADS := never
# Trust the system's certificate store (a proxy's CA installed there is honoured, as pip does).
export UV_SYSTEM_CERTS := 1
# Install the dependencies' bytecode with them: where PYTHONDONTWRITEBYTECODE is set (containers, CI) every night
# would otherwise compile Great Expectations, pandas and the rest from source again (about 5 CPU seconds a night).
export UV_COMPILE_BYTECODE := 1
# PYTHON is only the interpreter that bootstraps uv; recipes run the project's venv through `uv run`.
unexport PYTHON
export PYTHONUTF8 := 1
RUN := $(UV) run --frozen --no-sync
SAMPLE := samples/huu-lung
# The sample district describes the 2021-2022 school year (phase 1): replay it as of a night in that year.
DEMO_AS_OF ?= 2022-03-15

.PHONY: bootstrap demo test bench lint sample clean

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --python $(PYTHON) --quiet
	@# the project's own bytecode too (uv compiles only the installed packages): where PYTHONDONTWRITEBYTECODE is
	@# set, every night and each of its worker processes would compile flows/ again (0.3-0.5 CPU s each)
	@$(RUN) python -m compileall -q -j 0 flows samples validations >/dev/null

sample: bootstrap
	@$(RUN) python -m samples.generate --out $(SAMPLE)

demo: bootstrap sample
	@$(RUN) songmaytinh run --sources $(SAMPLE) --out outputs --as-of $(DEMO_AS_OF)

test: bootstrap
	@$(RUN) bash tests/run.sh

bench: bootstrap sample
	@$(RUN) songmaytinh bench district

lint: bootstrap
	@$(RUN) ruff check flows validations samples tests

clean:
	rm -rf outputs/* .pytest_cache
