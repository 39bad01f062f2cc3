package handlers

import "github.com/lvsconsole/lvsconsole/lvs/cluster"

// ClusterSource is cluster mode as the console shows it and serves it to
// the other directors; *cluster.Cluster provides it.
type ClusterSource interface{ Status() cluster.Status }
