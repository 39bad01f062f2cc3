// Package migrations holds the database schema as numbered SQL files
// (NNNN_name.sql), embedded in the binary. The store applies, in order, each
// file that the database has not seen yet, one transaction per file. A file
// that has been released is never edited: a change is a new file.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
