// Package static holds the console's stylesheet and scripts, embedded in the
// binary so that the console works offline and from a single file.
package static

import "embed"

// FS holds the files served under /static/, among them openapi.yaml, the
// description of the JSON API.
//
//go:embed *.css *.js *.yaml
var FS embed.FS
