# Shortcuts; the README's commands work without make too.
.PHONY: run test bench

run:
	uv run trading-core run

test:
	./scripts/test

bench:
	uv run --group bench python -m benchmarks
