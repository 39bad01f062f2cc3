package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Line draws values (oldest first) as an SVG path in the chart box,
// scaled so that its highest value touches the top; a line of zeros lies
// on the bottom.
func Line(values []float64) ChartLine {
	l := ChartLine{}
	if len(values) == 0 {
		return l
	}
	for _, v := range values {
		l.Max = math.Max(l.Max, v)
	}
	l.Last = values[len(values)-1]
	scale := 0.0
	if l.Max > 0 {
		scale = float64(ChartHeight-2) / l.Max
	}
	step := float64(ChartWidth)
	if len(values) > 1 {
		step = float64(ChartWidth) / float64(len(values)-1)
	}
	var b strings.Builder
	b.Grow(len(values) * 12)
	for i, v := range values {
		if i == 0 {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(strconv.FormatFloat(float64(i)*step, 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(float64(ChartHeight-1)-v*scale, 'f', 1, 64))
	}
	l.Path = b.String()
	return l
}

// Int prints an integer; cheaper than fmt on pages of 10,000 rows.
func Int[T ~int32 | ~uint32 | ~int64 | ~uint64 | ~int](n T) string {
	if n < 0 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strconv.FormatUint(uint64(n), 10)
}

// Count prints a counter as ipvsadm's --stats does (print_largenum): as
// it is below 100 million, else in thousands (K), millions (M), billions
// (G) or trillions (T), at most 8 digits and the unit; exact is false then.
func Count(n uint64) (s string, exact bool) {
	b, exact := AppendCount(nil, n)
	return string(b), exact
}

// AppendCount appends Count(n) to dst.
func AppendCount(dst []byte, n uint64) (b []byte, exact bool) {
	switch {
	case n < 1e8:
		return strconv.AppendUint(dst, n, 10), true
	case n < 1e9:
		return append(strconv.AppendUint(dst, n/1e3, 10), 'K'), false
	case n < 1e11:
		return append(strconv.AppendUint(dst, n/1e6, 10), 'M'), false
	case n < 1e14:
		return append(strconv.AppendUint(dst, n/1e9, 10), 'G'), false
	}
	return append(strconv.AppendUint(dst, n/1e12, 10), 'T'), false
}

// Rate prints a rate briefly: 0, 3.5, 120, 4.2k, 17M.
func Rate(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 1e7:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v < 1e10:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(v/1e9, 'f', 1, 64) + "G"
}

// Bytes prints a byte count as ipvsadm's --stats does with -h: 512, 1.5K,
// 20.3M.
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%c", float64(n)/float64(div), "KMGTPE"[exp])
}
