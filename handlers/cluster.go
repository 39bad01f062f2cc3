package handlers

import (
	"github.com/lvsconsole/lvsconsole/lvs/cluster"
)

// ClusterSource tells the state of cluster mode (issue 19): this
// director's BGP sessions and announcements, and the other directors as
// last heard. lvs/cluster's runtime provides it.
type ClusterSource interface {
	Status() cluster.Status
}
