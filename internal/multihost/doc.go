// Package multihost holds the multi-host suite: three workers, each on a
// host of its own (a container on a compose network, from
// deploy/compose.yaml and the image deploy/Dockerfile builds), driven from
// outside as a data scientist would: encrypted jobs of two and three
// parties, model hiding and a plan; then one host killed, frozen or cut
// off mid-job, checking each error names it and that the others serve the
// next job; and the MPC workloads at 0 and 20 ms of one-way delay between
// hosts (a faultnet forwarder on the path). TestContainersNotebook runs
// the tutorial notebooks/deploy/containers.ipynb with the gomplab kernel
// (Jupyter's nbclient) against the three containers.
//
// The tests need Docker and docker-compose and carry the build tag
// multihost; `make multihost` (part of `make test`) runs them:
//
//	go test -tags multihost -count=1 -v ./internal/multihost
package multihost
