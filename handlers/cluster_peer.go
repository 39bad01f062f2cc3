package handlers

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
)

// errNotServed is a peer request for something this director does not
// serve: answered 404 once the request is verified (a stranger gets the
// same 401 as for anything else).
var errNotServed = errors.New("not served by this director")

// peerCluster serves this director's cluster status to the other
// directors of the cluster, as peerConfig serves the configuration:
// signed requests only, the answer sealed for the request. Without a
// ClusterSource (not wired in this process) it answers 404.
func (c *Console) peerCluster(w http.ResponseWriter, r *http.Request) {
	c.peerAnswer(w, r, "the cluster status", func(r *http.Request) ([]byte, error) {
		if c.cluster == nil {
			return nil, errNotServed
		}
		return json.Marshal(cluster.ForPeer(c.cluster.Status()))
	})
}
