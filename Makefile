# gomplab build, test and demo targets. `make test` is what CI runs.
GO       ?= go
PYTHON   ?= /usr/bin/python3
BIN      := bin/gomplab
FUZZTIME ?= 5s
# Packages that start goroutines (directly, or through MPC parties, workers
# and daemons) run again under the race detector; install has none.
# examples/accesscontrol is left out: it takes minutes under -race, and
# syft, workers and mpc's race runs cover the same code; so are
# examples/mnist, tfe, cifar and resnet, whose tests train networks and classify
# images by the thousand or run ResNet-18 (they skip under -race, see
# internal/race).
RACE_PKGS = $(filter-out %/examples/accesscontrol %/examples/mnist %/examples/tfe %/examples/cifar %/examples/resnet,$(shell $(GO) list ./tensor/... ./serde/... ./mpc/... ./syft/... ./workers/... ./sandbox/... ./kernel/... ./cmd/... ./examples/... 2>/dev/null))

.PHONY: build test unit race fuzz multihost bench lint demo clean accuracy

build:
	@test -x $(BIN) || echo "building $(BIN): the first build also compiles the dependencies (gonum, zmq4, yaegi's standard-library tables) and takes a few minutes; later builds take seconds"
	$(GO) build -o $(BIN) ./cmd/gomplab

## test: everything CI checks (vet, unit tests, race, short fuzzing, the
## multi-host suite, Jupyter).
test: build
	$(GO) vet ./...
	$(MAKE) unit race fuzz multihost
	@if [ -x .ci/jupyter ]; then .ci/jupyter; fi

unit:
	$(GO) test -count=1 ./...

race:
	@if [ -n "$(RACE_PKGS)" ]; then $(GO) test -race -count=1 $(RACE_PKGS); fi

## multihost: three workers in containers (deploy/Dockerfile,
## deploy/compose.yaml), encrypted jobs across them, then a host killed,
## frozen and cut off (needs Docker and docker-compose; internal/multihost).
multihost:
	$(GO) vet -tags multihost ./internal/multihost
	$(GO) test -tags multihost -count=1 -timeout 8m ./internal/multihost

## accuracy: the accuracy figures of docs/benchmarks.md at full size, on
## real data: LeNet on all 10,000 MNIST test images (encrypted against
## plaintext; the program fails when they disagree), encrypted training of
## a perceptron on MNIST, federated averaging on MNIST against centralized
## training, logistic regression and the SVM on scikit-learn's breast
## cancer set; TFE's networks A, B and C on all of MNIST, the CIFAR LeNet,
## and ResNet-18 on 8 images (needs python3-torchvision).
accuracy:
	$(GO) run ./examples/mnist -train 60000 -test 10000
	$(GO) run ./examples/mlp -data mnist -train 10000 -test 10000 -hidden 32 -epochs 3 -lr 0.1
	$(GO) run ./examples/federated -data mnist -workers 2 -train 60000 -test 10000 -rounds 500 -every 50 -local 2 -batch 32 -hidden 32 -lr 0.1
	$(GO) run ./examples/logreg -data breast-cancer
	$(GO) run ./examples/logreg -data breast-cancer -optim adam
	$(GO) run ./examples/svm -data breast-cancer -margin 1 -l2 0.01
	$(GO) run ./examples/tfe -train 60000 -test 10000
	$(GO) run ./examples/cifar -train 10000 -test 2000
	$(GO) run ./examples/resnet -images 8

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

## demo: the main demo, on embedded defaults (no servers to start by hand).
demo: build
	./$(BIN) demo

clean:
	rm -rf bin
