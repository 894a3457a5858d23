package spec

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Durations and sizes in avatar.yaml are written the way people think (7d, 512MiB) and stored the way
// Kafka wants them (milliseconds, bytes). The parsers here are exact: they use rational arithmetic so
// that "1.5h" is 5400000 ms and never 5399999, and they refuse values that do not fit an int64.

const (
	msPerSecond = 1000
	msPerMinute = 60 * msPerSecond
	msPerHour   = 60 * msPerMinute
	msPerDay    = 24 * msPerHour
	msPerWeek   = 7 * msPerDay
)

// durationUnits are the units a duration may use, in milliseconds.
var durationUnits = map[string]int64{
	"ms": 1,
	"s":  msPerSecond,
	"m":  msPerMinute,
	"h":  msPerHour,
	"d":  msPerDay,
	"w":  msPerWeek,
}

// sizeUnits are the units a size may use, in bytes; lookups are case-insensitive.
var sizeUnits = map[string]int64{
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// errNotNumber marks input that is not a number with a unit at all (as opposed to one out of range).
var errNotNumber = errors.New("not a number")

// ParseDurationMs converts a human duration to milliseconds, Kafka's unit for *.ms configs.
// A bare integer is already milliseconds; otherwise the value is one or more number+unit pairs
// (ms, s, m, h, d, w), as in 90s, 10m, 1h30m, 7d or 1.5h. "-1", "forever" and "infinite" mean -1,
// Kafka's "no limit". The result must be a whole number of milliseconds.
func ParseDurationMs(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "forever", "infinite", "unlimited":
		return -1, nil
	}
	// A number ends in a digit: "7d" goes straight to the units (ParseInt's error for it was an
	// allocation per topic of a large spec; issue 23).
	if last := len(s) - 1; last >= 0 && s[last] >= '0' && s[last] <= '9' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	return parseUnits(s, func(u string) (int64, bool) { v, ok := durationUnits[u]; return v, ok }, true)
}

// ParseDuration converts a human duration with a unit (30s, 825d) to a time.Duration. Unlike
// ParseDurationMs a bare number is refused: outside Kafka configs nobody can guess its unit.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit (write e.g. 30s, 10m, 1h or 825d)", s)
	}
	ms, err := parseUnits(s, func(u string) (int64, bool) { v, ok := durationUnits[u]; return v, ok }, true)
	if err != nil {
		return 0, err
	}
	if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// ParseBytes converts a human size to bytes: a bare integer is bytes; otherwise a number and one of
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, as in
// 512MiB or 1GB. "-1" and "unlimited" mean -1, Kafka's "no limit".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "unlimited") {
		return -1, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	return parseUnits(s, func(u string) (int64, bool) { v, ok := sizeUnits[strings.ToLower(u)]; return v, ok }, false)
}

// ParseRate reads a throughput in bytes per second, the one parser for the file's
// reassignment.throttle and the --throttle flag (issue 9: the flag refused "50mib/s", which the file
// accepted). It is a size as ParseBytes reads it (any case, KB..TB and KiB..TiB), optionally followed
// by "/s"; 0 means no throttle, and negative values are refused.
func ParseRate(s string) (int64, error) {
	v := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	n, err := ParseBytes(v)
	if err != nil || strings.EqualFold(v, "unlimited") {
		return 0, fmt.Errorf("%q is not a rate (bytes per second, or e.g. 50MiB/s, 10MB/s, 1GB/s; 0 = no throttle)", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("%q must not be negative (0 = no throttle)", s)
	}
	return n, nil
}

// parseUnits reads number+unit pairs (several only when multi is set) and sums them exactly.
func parseUnits(s string, unit func(string) (int64, bool), multi bool) (int64, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("empty value: %w", errNotNumber)
	}
	if n, mult, ok := wholeTimesUnit(s, unit); ok {
		return n * mult, nil
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	total := new(big.Rat)
	pairs := 0
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num := s[:i]
		s = strings.TrimLeft(s[i:], " ")
		j := 0
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		u := s[:j]
		s = strings.TrimLeft(s[j:], " ")
		if num == "" || u == "" {
			return 0, fmt.Errorf("%q: %w", orig, errNotNumber)
		}
		r, ok := new(big.Rat).SetString(num)
		if !ok {
			return 0, fmt.Errorf("%q: %w", orig, errNotNumber)
		}
		mult, ok := unit(u)
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q: %w", orig, u, errNotNumber)
		}
		total.Add(total, r.Mul(r, new(big.Rat).SetInt64(mult)))
		pairs++
		if pairs > 1 && !multi {
			return 0, fmt.Errorf("%q: %w", orig, errNotNumber)
		}
	}
	if neg {
		total.Neg(total)
	}
	if !total.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of the base unit", orig)
	}
	n := total.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", orig)
	}
	return n.Int64(), nil
}

// wholeTimesUnit is parseUnits' fast path for the common "7d" or "512MiB": one whole number and a
// known unit whose product fits an int64. The big.Rat path cost a tenth of the parse of a spec of
// 10,000 topics (issue 9).
func wholeTimesUnit(s string, unit func(string) (int64, bool)) (n, mult int64, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 { // 18 digits always fit an int64
		return 0, 0, false
	}
	j := i
	for j < len(s) && s[j] == ' ' {
		j++
	}
	u := s[j:]
	for k := 0; k < len(u); k++ {
		if c := u[k]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return 0, 0, false
		}
	}
	mult, ok = unit(u)
	if !ok || u == "" {
		return 0, 0, false
	}
	n, _ = strconv.ParseInt(s[:i], 10, 64)
	if n > math.MaxInt64/mult {
		return 0, 0, false
	}
	return n, mult, true
}

// FormatDurationMs renders milliseconds the way a person would write them (3600000 → "1h",
// 5400000 → "1h30m", -1 → "forever"), for plans and docs; ParseDurationMs reads it back exactly.
func FormatDurationMs(ms int64) string {
	switch {
	case ms == -1:
		return "forever"
	case ms == 0:
		return "0"
	case ms < 0 || ms == math.MaxInt64:
		return strconv.FormatInt(ms, 10)
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		ms   int64
	}{{"d", msPerDay}, {"h", msPerHour}, {"m", msPerMinute}, {"s", msPerSecond}, {"ms", 1}} {
		if q := ms / u.ms; q > 0 {
			b.WriteString(strconv.FormatInt(q, 10))
			b.WriteString(u.name)
			ms -= q * u.ms
		}
	}
	return b.String()
}

// FormatBytes renders a byte count with the largest unit that divides it exactly (1073741824 →
// "1GiB", 1000000 → "1MB"), falling back to the bare number; -1 is "unlimited". It is the one byte
// formatter: plans, diagnostics and docs all use it (issue 9).
func FormatBytes(n int64) string {
	if n == -1 {
		return "unlimited"
	}
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	for _, u := range []struct {
		name string
		b    int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		// Largest unit first, binary and decimal interleaved: 10^12 is "1TB", not "976562500KiB".
		if n%u.b == 0 {
			return strconv.FormatInt(n/u.b, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatDuration renders a time.Duration in the same units as FormatDurationMs.
func formatDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return FormatDurationMs(int64(d / time.Millisecond))
}
