package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Bounds of what one import reads: real configurations are a few files of
// a few kilobytes.
const (
	maxSize     = 32 << 20 // bytes of all files together: 10,000 x 10 written by kaexport is 23 MB (issue 20)
	maxFiles    = 256      // files read, the main one included
	maxDepth    = 8        // include nesting
	maxErrors   = 50
	maxWarnings = 200
	maxGroup    = 256 // addresses of one virtual_server_group range
)

// line is one line of a file as keepalived's read_line sees it: comments
// removed, split into words, with { and } as words of their own.
type line struct {
	pos   Pos
	words []string
	// quoted marks the words that were quoted, so that a quoted "{" is a
	// word, not a block.
	quoted []bool
}

// reader reads a file and the files it includes into lines.
type reader struct {
	o     Options
	lines []line
	files int
	size  int
	errs  *report
}

// read appends the lines of data, named name, expanding its includes
// relative to its directory.
func (r *reader) read(name string, data []byte, depth int) {
	r.files++
	r.size += len(data)
	text := strings.TrimPrefix(string(data), "\uFEFF")
	// Room for every line at once: growing a slice of 1.4 million lines
	// (10,000 x 10) copied it some twenty times (issue 20).
	r.lines = slices.Grow(r.lines, strings.Count(text, "\n")+1)
	for i, raw := range strings.Split(text, "\n") {
		if r.errs.full() {
			return
		}
		pos := Pos{File: name, Line: i + 1}
		s, ok := decomment(strings.TrimSuffix(raw, "\r"))
		if !ok {
			r.errs.errorf(pos, "", "a quote is not closed on this line")
			continue
		}
		s = strings.Trim(s, " \t")
		switch {
		case s == "":
			continue
		case s[0] == '$' || s[0] == '@' || s[0] == '~':
			r.errs.warnf(pos, s[:1], "keepalived's parameters, sequences and system ids ($NAME, ~SEQ, @id) are not supported: line left out")
			continue
		case isInclude(s):
			r.include(pos, strings.Trim(s[len("include"):], " \t"), depth)
			continue
		}
		words, quoted := split(s)
		r.lines = append(r.lines, line{pos: pos, words: words, quoted: quoted})
	}
}

func isInclude(s string) bool {
	return strings.HasPrefix(s, "include") && len(s) > len("include") && (s[7] == ' ' || s[7] == '\t')
}

// include reads the files pattern names: a glob, relative to the directory
// of the including file, as keepalived (which changes into it) reads it.
func (r *reader) include(pos Pos, pattern string, depth int) {
	if !r.o.Include {
		r.errs.errorf(pos, "include", "includes are not followed in this import: import the file with its includes from the command line, or paste them in")
		return
	}
	if depth >= maxDepth {
		r.errs.errorf(pos, "include", "includes are nested deeper than %d (does a file include itself?)", maxDepth)
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	names, err := filepath.Glob(pattern)
	if err != nil {
		r.errs.errorf(pos, "include", "%q is not a valid pattern: %v", pattern, err)
		return
	}
	if len(names) == 0 {
		if strings.ContainsAny(pattern, "*?[") {
			r.errs.warnf(pos, "include", "no file matches %q", pattern)
		} else {
			r.errs.errorf(pos, "include", "%s does not exist", pattern)
		}
		return
	}
	for _, name := range names {
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			continue // glob's GLOB_MARK: keepalived skips directories
		}
		if r.files >= maxFiles {
			r.errs.errorf(pos, "include", "more than %d files are included", maxFiles)
			return
		}
		data, err := readLimited(name, maxSize-r.size)
		if err != nil {
			r.errs.errorf(pos, "include", "%v", err)
			return
		}
		r.read(name, data, depth+1)
	}
}

// readLimited reads the file name if it holds at most limit bytes.
func readLimited(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) > limit {
			return nil, &sizeError{name}
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if len(buf) > limit {
				return nil, &sizeError{name}
			}
			return buf, nil
		}
	}
}

type sizeError struct{ name string }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%s: the files together are larger than %d MiB; this is not a keepalived.conf", e.name, maxSize>>20)
}

// decomment removes a comment (from a # or ! outside quotes, as
// keepalived's decomment), undoing the escapes \# and \! outside quotes. It
// reports false if a quote is left open.
func decomment(s string) (string, bool) {
	var b strings.Builder
	quote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && !quote && i+1 < len(s) && (s[i+1] == '#' || s[i+1] == '!'):
			i++
			c = s[i]
		case !quote && (c == '#' || c == '!'):
			return b.String(), true
		}
		b.WriteByte(c)
	}
	return b.String(), !quote
}

// split cuts a decommented line into words: runs of non-blanks, "quoted
// strings" (without their quotes), and { and } outside quotes.
func split(s string) (words []string, quoted []bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '{' || c == '}':
			words, quoted = append(words, s[i:i+1]), append(quoted, false)
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			words, quoted = append(words, s[i+1:i+1+j]), append(quoted, true)
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t{}\"", rune(s[j])) {
				j++
			}
			words, quoted = append(words, s[i:j]), append(quoted, false)
			i = j
		}
	}
	return words, quoted
}

// node is a statement: a keyword, its arguments, and its block if it has
// one.
type node struct {
	pos   Pos
	key   string
	args  []string
	block bool
	kids  []*node
}

// tree builds the statements of lines. A { opens the block of the statement
// before it on its line, or of the statement of the line before when it
// starts a line (keepalived accepts both); } closes the innermost block.
func tree(lines []line, rep *report) []*node {
	root := &node{block: true}
	stack := []*node{root}
	var last *node // statement that ended its line, and may take a { on the next
	for _, ln := range lines {
		var cur *node
		end := func() {
			if cur != nil {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, cur)
			}
		}
		for i, w := range ln.words {
			isOpen := w == "{" && !ln.quoted[i]
			isClose := w == "}" && !ln.quoted[i]
			switch {
			case isOpen:
				n := cur
				if n == nil && i == 0 && last != nil && !last.block {
					n = last
				} else if n != nil {
					end()
				}
				if n == nil {
					rep.errorf(ln.pos, "{", "this { opens no block: it follows no keyword")
					// Keep the braces balanced for what follows.
					n = &node{pos: ln.pos}
				}
				n.block = true
				stack = append(stack, n)
				cur = nil
			case isClose:
				end()
				cur = nil
				if len(stack) == 1 {
					rep.errorf(ln.pos, "}", "this } closes no block")
					continue
				}
				stack = stack[:len(stack)-1]
			case cur == nil:
				cur = &node{pos: ln.pos, key: w}
			default:
				cur.args = append(cur.args, w)
			}
		}
		end()
		last = cur
	}
	for _, n := range stack[1:] {
		rep.errorf(n.pos, n.key, "the block of %s is not closed: a } is missing before the end of the file", n.key)
	}
	return root.kids
}
