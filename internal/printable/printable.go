// Package printable makes text from outside avatar-sync — device plugins' answers and stderr, a
// device's reply — safe to print on one line of a terminal. A plugin's diagnostic carrying BEL
// (0x07) or an escape sequence would otherwise ring, clear or repaint the user's terminal through
// avatar-sync (issue 10); a line break would forge extra lines of output.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s on one line with nothing a terminal acts on: runs of white space (line breaks
// and tabs included) become one space and the ends are trimmed; every other control character
// (C0, DEL, C1), each bidirectional override and every byte that is not UTF-8 is written as a Go
// escape (\x07, \u202e), so it stays visible without taking effect. Printable text, non-ASCII
// letters included, is unchanged.
func Line(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	space := false
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			flushSpace(&b, &space)
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsControl(r) || isBidiControl(r):
			flushSpace(&b, &space)
			writeEscape(&b, r)
		default:
			flushSpace(&b, &space)
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Text returns s with everything a terminal acts on escaped as Line escapes it, line breaks and tabs
// included ("\x0a"), but every space kept: for a path or an id printed in a banner, where the exact
// characters matter and collapsing white space would name another file.
func Text(s string) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || isBidiControl(r):
			writeEscape(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func writeEscape(b *strings.Builder, r rune) {
	if r < 0x80 {
		fmt.Fprintf(b, `\x%02x`, r)
	} else {
		fmt.Fprintf(b, `\u%04x`, r)
	}
}

func flushSpace(b *strings.Builder, pending *bool) {
	if *pending {
		b.WriteByte(' ')
		*pending = false
	}
}

// isClean reports whether Line would return s unchanged: printable ASCII with single inner spaces,
// the common case, checked without allocating.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || (c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			return false
		}
	}
	return true
}

// isBidiControl reports the Unicode bidirectional formatting characters, which reorder what a
// terminal shows (the "Trojan Source" trick) without being control characters.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}
