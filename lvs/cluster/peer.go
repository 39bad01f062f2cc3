package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
)

// Path is where a director serves its Status to the other directors of
// the cluster: GET, signed with the peer secret and answered sealed, as
// failover.ConfigPath (see lvs/failover's peerauth.go).
const Path = "/peer/v2/cluster"

// MaxStatus bounds a Status taken from another director, as JSON: about
// 60 bytes a prefix and 150 a session: room for thousands of VIPs.
const MaxStatus = 1 << 20

// ForPeer is st as served at Path: without Directors, the director's view
// of the others (each director polls every other itself; serving the views
// too would make every answer grow with the cluster, N² in all).
func ForPeer(st Status) Status {
	st.Directors = nil
	return st
}

// FetchCluster asks the console at base (scheme://host:port) for its
// director's Status, proving it holds secret, and opens the sealed answer,
// of at most MaxStatus bytes.
func FetchCluster(ctx context.Context, client *http.Client, base string, secret []byte, now time.Time) (Status, error) {
	var st Status
	b, err := failover.FetchSealed(ctx, client, base, Path, secret, now, MaxStatus)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("the director's cluster status: %w", err)
	}
	return st, nil
}
