// Package static holds the console's stylesheet and scripts, embedded in the
// binary so that the console works offline and from a single file.
package static

import "embed"

// FS holds the files served under /static/.
//
//go:embed *.css *.js
var FS embed.FS
