package health

import (
	"fmt"
	"time"
)

// Bytes prints a size for people: "0 B", "512 B", "1.5 KiB", "3.2 GiB"; "-" when n < 0 (not read).
func Bytes(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i-1])
}

// Retention prints retention.ms and retention.bytes: "7d", "12h", "unlimited", "7d or 1.0 GiB";
// "-" when not read.
func Retention(ms, bytes int64) string {
	var s string
	switch {
	case ms == 0:
		return "-"
	case ms < 0:
		s = "unlimited"
	default:
		d := time.Duration(ms) * time.Millisecond
		switch {
		case d%(24*time.Hour) == 0:
			s = fmt.Sprintf("%dd", d/(24*time.Hour))
		case d%time.Hour == 0:
			s = fmt.Sprintf("%dh", d/time.Hour)
		case d%time.Minute == 0:
			s = fmt.Sprintf("%dm", d/time.Minute)
		default:
			s = d.String()
		}
	}
	if bytes > 0 {
		if ms < 0 {
			return Bytes(bytes)
		}
		s += " or " + Bytes(bytes)
	}
	return s
}

// PerSecond prints a rate ("12.5/s"), "-" for none (a single sample).
func PerSecond(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f/s", *r)
}

// BytesPerSecond prints a byte rate ("1.2 KiB/s"), "-" for none.
func BytesPerSecond(r *float64) string {
	if r == nil {
		return "-"
	}
	return Bytes(int64(*r)) + "/s"
}
