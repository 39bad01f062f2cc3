package handlers

import (
	"cmp"
	"errors"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// A change from a form or the API is refused with every value at fault at
// once: those that could not be read (an address of 192.168.1.1000, a
// port of "nope") and those config.Validate refuses in what was read (port
// 70000, no name). The readers leave a value they cannot read as it was,
// so the change is still validated as a whole; joinRefusals then keeps,
// for a value that could not be read, the reader's message only.

// joinRefusals returns the refusal of a change some of whose values could
// not be read: unread (the readers' verdicts, placed as Validate places
// its own) and verdict (Validate's error on the change made of the rest,
// or nil), each refused value once, in the registry's order (the API's,
// and Validate's). Validate's
// verdicts on an unread value are dropped: they judge the value it was
// left at, not the one sent.
func joinRefusals(unread []*config.FieldError, verdict error) error {
	var ve *config.ValidationError
	if verdict != nil && !errors.As(verdict, &ve) {
		return verdict
	}
	var judged []*config.FieldError
	if ve != nil {
		for _, fe := range ve.Fields {
			if !unreadField(unread, fe) {
				judged = append(judged, fe)
			}
		}
	}
	if len(unread)+len(judged) == 0 {
		return nil
	}
	unread = slices.SortedStableFunc(slices.Values(unread), formOrder)
	// Both lists are in the registry's order: merge them, the reader's
	// first where they tie.
	out := make([]*config.FieldError, 0, len(unread)+len(judged))
	i, j := 0, 0
	for i < len(unread) && j < len(judged) {
		if formOrder(judged[j], unread[i]) < 0 {
			out = append(out, judged[j])
			j++
			continue
		}
		out = append(out, unread[i])
		i++
	}
	out = append(append(out, unread[i:]...), judged[j:]...)
	return &config.ValidationError{Fields: out}
}

// unreadField reports whether fe is about a value of unread.
func unreadField(unread []*config.FieldError, fe *config.FieldError) bool {
	for _, u := range unread {
		if u.Section == fe.Section && u.Virtual == fe.Virtual && u.Real == fe.Real && u.Field == fe.Field {
			return true
		}
	}
	return false
}

// formOrder compares where two refused values are: by entry
// (global, redundancy, then each virtual server followed by its real
// servers), then by the field's place in the registry.
func formOrder(a, b *config.FieldError) int {
	return cmp.Or(
		cmp.Compare(sectionRank(a.Section), sectionRank(b.Section)),
		cmp.Compare(a.Virtual, b.Virtual),
		cmp.Compare(a.Real, b.Real),
		cmp.Compare(fieldRank(a), fieldRank(b)),
	)
}

func sectionRank(section string) int {
	switch section {
	case "global":
		return 0
	case "redundancy":
		return 1
	}
	return 2 // virtual servers and their real servers, by index
}

// fieldRank is the place of fe's field in its section's registry; a name
// the registry does not have comes last.
func fieldRank(fe *config.FieldError) int {
	var i int
	switch fe.Section {
	case "global":
		i = keyIndex(config.GlobalFields, fe.Field)
	case "redundancy":
		i = keyIndex(config.RedundancyFields, fe.Field)
	case "virtual":
		i = keyIndex(config.VirtualFields, fe.Field)
	case "server":
		i = keyIndex(config.RealFields, fe.Field)
	default:
		i = -1
	}
	if i < 0 {
		return 1 << 30
	}
	return i
}

func keyIndex[T any](fs config.Fields[T], key string) int {
	for i := range fs {
		if fs[i].Key == key {
			return i
		}
	}
	return -1
}
