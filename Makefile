# The README's commands. `make test` is what CI runs.
GO ?= go

.PHONY: test demo build bench fuzz

test:
	$(GO) test -race -count=1 -timeout 20m ./...

demo:
	$(GO) run ./cmd/perfengine demo

build:
	$(GO) build -o perfengine ./cmd/perfengine

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
