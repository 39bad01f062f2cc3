// Package imports reads a configuration file in each format the console
// and lvsconsole import take — piranha's lvs.cf, keepalived.conf and the
// rules of ipvsadm -S — telling them apart by their content, so that the
// command line and the console's upload read a file alike.
package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/keepalived"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
)

// Format is a kind of file.
type Format string

const (
	LvsCf      Format = "lvscf"      // piranha's lvs.cf
	Keepalived Format = "keepalived" // keepalived.conf
	Ipvsadm    Format = "ipvsadm"    // the rules of ipvsadm -S or -Sn
)

// MaxSize bounds a file: the command line reads one byte past it, the
// console's upload stops there. It admits 10,000 virtual servers x 10
// real servers (issue 20): 12.6 MB of lvs.cf, 23 MB of keepalived.conf.
const MaxSize = 32 << 20

// Formats lists them, as -format and the console name them.
var Formats = []Format{LvsCf, Keepalived, Ipvsadm}

// Parse reads a format's name; "" is Detect's job.
func Parse(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%q is not a format to import: use %s", s, strings.Join(names, ", "))
}

// Detect tells the format of data by its content: ipvsadm's rules by
// their first line that says something (-A or -a), keepalived.conf by its
// blocks, and lvs.cf otherwise.
func Detect(data []byte) Format {
	switch {
	case looksIpvsadm(data):
		return Ipvsadm
	case keepalived.Looks(data):
		return Keepalived
	}
	return LvsCf
}

func looksIpvsadm(data []byte) bool {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "ipvsadm ")
		w, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		return w == "-A" || w == "-a" || w == "--add-service" || w == "--add-server"
	}
	return false
}

// Options say how to read.
type Options struct {
	// Resolver looks up the host names lvs.cf and ipvsadm's rules may
	// hold; nil: names are refused.
	Resolver *net.Resolver
	// Include follows keepalived's include directives, relative to the
	// file's name: for the command line, never for an upload (which must
	// not read the director's files).
	Include bool
}

// File is what a file says.
type File struct {
	Format Format
	// Config is the configuration the file describes; for ipvsadm's
	// rules, which carry only services, the default one with them as its
	// virtual servers (see Over).
	Config   *config.Config
	Warnings []string
	// FileSerial is lvs.cf's serial_no, 0 for the others.
	FileSerial int64

	data  []byte
	saved []ipvs.SavedService
}

// Read reads data, from the file name, in format f. Its error lists every
// refusal, each at its line; the file's warnings come with it.
func Read(ctx context.Context, f Format, name string, data []byte, o Options) (*File, error) {
	out := &File{Format: f, data: data}
	if len(data) > MaxSize {
		return out, fmt.Errorf("the file is larger than %d MiB", MaxSize>>20)
	}
	switch f {
	case Keepalived:
		cfg, warns, err := keepalived.Import(name, data, keepalived.Options{Include: o.Include})
		for _, w := range warns {
			out.Warnings = append(out.Warnings, w.String())
		}
		if err != nil {
			return out, err
		}
		out.Config = cfg
	case Ipvsadm:
		var res ipvs.SaveResolver
		if o.Resolver != nil {
			res = o.Resolver
		}
		saved, notes, err := ipvs.ParseSave(ctx, bytes.NewReader(data), res)
		for _, n := range notes {
			out.Warnings = append(out.Warnings, n.Error())
		}
		if err != nil {
			return out, fmt.Errorf("not ipvsadm -S rules as read:\n%w", err)
		}
		vss, warns, err := virtualsOfSave(saved)
		if err != nil {
			return out, err
		}
		out.Warnings = append(out.Warnings, warns...)
		out.saved = saved
		out.Config = config.Default()
		out.Config.Virtuals = vss
	default:
		var res lvscf.Resolver
		if o.Resolver != nil {
			res = o.Resolver
		}
		cfg, warns, err := lvscf.Import(ctx, bytes.NewReader(data), lvscf.Options{Resolver: res})
		for _, w := range warns {
			out.Warnings = append(out.Warnings, w.String())
		}
		if err != nil {
			return out, err
		}
		out.Config, out.FileSerial = cfg, cfg.Serial
	}
	return out, nil
}

// Over is the configuration the file makes of cur: the file's whole, or
// for ipvsadm's rules, cur with the file's services as its virtual
// servers (the global and redundancy settings are cur's).
func (f *File) Over(cur *config.Config) *config.Config {
	if f.Format != Ipvsadm {
		return f.Config.Clone()
	}
	next := cur.Clone()
	next.Virtuals = f.Config.Clone().Virtuals
	return next
}

// Errors are the store's refusals of a file's configuration, each at the
// file's line where the format tells it.
type Errors struct{ Lines []string }

func (e *Errors) Error() string { return strings.Join(e.Lines, "\n") }

// Locate puts the file's line before each of the store's refusals of its
// configuration (a *config.ValidationError), as *Errors, where the format
// tells them; any other error is returned as it is.
func (f *File) Locate(err error) error {
	switch f.Format {
	case LvsCf:
		var perr lvscf.Errors
		if located := lvscf.Locate(f.data, err); errors.As(located, &perr) {
			lines := make([]string, len(perr))
			for i, e := range perr {
				lines[i] = e.Error()
			}
			return &Errors{Lines: lines}
		}
	case Ipvsadm:
		return locateSave(f.saved, err)
	}
	return err
}

// virtualsOfSave maps the services of ipvsadm-save's rules to virtual
// servers (see engine.VirtualOf), with the warnings of the import. The
// error names the line of every service the configuration cannot hold.
func virtualsOfSave(saved []ipvs.SavedService) ([]config.VirtualServer, []string, error) {
	var vss []config.VirtualServer
	var warns []string
	var errs []string
	for i := range saved {
		s := &saved[i]
		dests := make([]ipvs.Destination, len(s.Dests))
		for j := range s.Dests {
			dests[j] = s.Dests[j].Destination
		}
		vs, err := engine.VirtualOf(&s.Service, dests)
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", s.Line, err))
			continue
		}
		if vs.IsFWMark() {
			warns = append(warns, fmt.Sprintf("line %d: %s: ipvsadm's rules give a firewall-mark service no address: virtual server %s is imported inactive; give it the virtual IP address the mark is for (and its real servers a port to be checked on when they have none), then activate it",
				s.Line, s.ServiceKey, vs.Name))
		}
		vss = append(vss, vs)
	}
	if len(errs) > 0 {
		return nil, nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(vss) > 0 {
		warns = append(warns, engine.NoCheckNote)
	}
	return vss, warns, nil
}

// locateSave puts the line of its -A (or -a) rule before each refusal of
// a virtual (or real) server.
func locateSave(saved []ipvs.SavedService, err error) error {
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	msgs := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		msgs[i] = f.Error()
		if f.Virtual >= 0 && f.Virtual < len(saved) {
			line := saved[f.Virtual].Line
			if f.Real >= 0 && f.Real < len(saved[f.Virtual].Dests) {
				line = saved[f.Virtual].Dests[f.Real].Line
			}
			msgs[i] = fmt.Sprintf("line %d: %s", line, msgs[i])
		}
	}
	return &Errors{Lines: msgs}
}
