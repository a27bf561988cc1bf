package sandbox

import (
	"fmt"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
)

// Link says how a party proves it belongs to its job and where the other
// parties reach it (see mpc/comm and docs/comm.md). The orchestrator
// names the parties (Identities) or hands every worker a job secret
// (Secret); each worker checks that, then fills in this party's own key
// and credential, which it signs with its long-term key (that key never
// reaches the party), and its network settings.
type Link struct {
	// Identities pins every rank to a worker: the fingerprint of the
	// certificate of the worker running rank r, in rank order.
	Identities []string `msgpack:"identities,omitempty"`
	// Key is this party's ephemeral key (comm.PartyKey.MarshalPEM) and
	// Credential its worker's credential for it
	// (comm.Credential.MarshalBinary), with Identities.
	Key        []byte `msgpack:"key,omitempty"`
	Credential []byte `msgpack:"credential,omitempty"`
	// Secret, instead of Identities, authenticates the parties by a job
	// secret the orchestrator gave every worker.
	Secret []byte `msgpack:"secret,omitempty"`
	// Advertise is the host the other parties reach this party by, and
	// Ports the range its listeners bind ("LO-HI"; empty for any port).
	Advertise string `msgpack:"advertise,omitempty"`
	Ports     string `msgpack:"ports,omitempty"`
	// PeerTimeoutMS is how long a peer this party waits on may stay
	// silent before it is reported stuck (0: comm.DefaultPeerTimeout).
	PeerTimeoutMS int64 `msgpack:"peer_timeout_ms,omitempty"`
}

// Authenticated reports whether the link names the parties or a secret.
func (l *Link) Authenticated() bool { return len(l.Identities) > 0 || len(l.Secret) > 0 }

// apply sets cfg's authentication and network settings from the link.
func (l *Link) apply(cfg *comm.Config) error {
	if len(l.Identities) > 0 {
		k, err := comm.ParsePartyKey(l.Key)
		if err != nil {
			return fmt.Errorf("the party's key: %v", err)
		}
		c, err := comm.ParseCredential(l.Credential)
		if err != nil {
			return fmt.Errorf("the party's credential: %v", err)
		}
		cfg.Identities, cfg.Key, cfg.Credential = l.Identities, k, c
		if len(l.Secret) > 0 {
			// The secret binds the ranks to one submitter: it is in the
			// job id the credentials name (comm.BindJob).
			cfg.JobID = comm.BindJob(cfg.JobID, l.Secret)
		}
	} else if len(l.Secret) > 0 {
		cfg.Secret = l.Secret
	}
	ports, err := comm.ParsePortRange(l.Ports)
	if err != nil {
		return err
	}
	cfg.Advertise, cfg.Ports = l.Advertise, ports
	cfg.PeerTimeout = time.Duration(l.PeerTimeoutMS) * time.Millisecond
	return nil
}
