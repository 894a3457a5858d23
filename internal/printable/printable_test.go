package printable

import "testing"

func TestLine(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"clean":                {"battery 87%", "battery 87%"},
		"empty":                {"", ""},
		"non-ASCII letters":    {"Gerät läuft — ok", "Gerät läuft — ok"},
		"bell":                 {"sensor ok\a", `sensor ok\x07`},
		"escape sequence":      {"only 3 GiB free\x1b[2J", `only 3 GiB free\x1b[2J`},
		"line breaks and tabs": {"  one\r\ntwo\tthree \n", "one two three"},
		"double spaces":        {"a  b", "a b"},
		"DEL":                  {"a\x7fb", `a\x7fb`},
		"C1 CSI":               {"a\u009b2Jb", `a\u009b2Jb`},
		"invalid UTF-8 CSI":    {"a\x9b2Jb", `a\x9b2Jb`},
		"bidi override":        {"file\u202eexe.txt", `file\u202eexe.txt`},
		"NUL":                  {"a\x00b", `a\x00b`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Line(tc.in); got != tc.want {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Line(Line(tc.in)); again != Line(tc.in) {
				t.Errorf("Line is not idempotent: %q then %q", Line(tc.in), again)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"path with spaces kept":  {"/srv/my  state dir", "/srv/my  state dir"},
		"line break escaped":     {"state\nforged line", `state\x0aforged line`},
		"tab escaped":            {"a\tb", `a\x09b`},
		"bell and OSC":           {"\x07\x1b]0;owned\x07", `\x07\x1b]0;owned\x07`},
		"C1 and invalid UTF-8":   {"a\u009bb\x9bc", `a\u009bb\x9bc`},
		"bidi override":          {"ca\u202ekey.crt", `ca\u202ekey.crt`},
		"non-ASCII letters kept": {"/home/jürgen/ssl-certs", "/home/jürgen/ssl-certs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
