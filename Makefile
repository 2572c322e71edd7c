# Thin wrapper over scripts/ and CMake; see README.md.
.PHONY: deps build run test fuzz bench-ingest bench-e2e bench-scale bench-console bench-soak format format-check lint clean image image-test

deps:
	@scripts/deps.sh

build: deps
	@scripts/build.sh release build

run: build
	@scripts/run.sh

test: deps
	@scripts/test.sh

# the container image (docker or podman; BASE_IMAGE=/RUNTIME_IMAGE= choose the base images)
image:
	@scripts/image.sh build

# builds it from `git archive HEAD` and runs version, config check and /healthz inside it
image-test:
	@scripts/image.sh test

fuzz: deps
	@scripts/build.sh fuzz build-fuzz

bench-ingest:
	@bench/ingest.sh

bench-e2e:
	@bench/e2e.sh

bench-scale:
	@bench/scale.sh

bench-console:
	@bench/console.sh

bench-soak:
	@bench/soak.sh

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build build-test build-fuzz build-bench
