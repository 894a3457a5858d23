package spec

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestParseRate: one parser for reassignment.throttle and --throttle (issue 9), TB and TiB included.
func TestParseRate(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		err  string
	}{
		"bytes":                  {in: "1048576", want: 1 << 20},
		"zero is no throttle":    {in: "0", want: 0},
		"MiB per second":         {in: "50MiB/s", want: 50 << 20},
		"lower case":             {in: "50mib/s", want: 50 << 20},
		"decimal MB":             {in: "10MB", want: 10_000_000},
		"space before unit":      {in: "10 MB/s", want: 10_000_000},
		"terabytes":              {in: "1TB/s", want: 1_000_000_000_000},
		"tebibytes":              {in: "2TiB", want: 2 << 40},
		"fraction that is whole": {in: "1.5KiB/s", want: 1536},
		"negative":               {in: "-5MB", err: "must not be negative"},
		"unlimited is no rate":   {in: "unlimited", err: "is not a rate"},
		"unknown unit":           {in: "5PB/s", err: "is not a rate"},
		"words":                  {in: "fast", err: "is not a rate"},
		"empty":                  {in: "", err: "is not a rate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRate(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestFormatBytes: the one unit formatter plans and messages use ("1MB", not "1000000B").
func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{
		-1: "unlimited", 0: "0", 1000: "1KB", 1_000_000: "1MB", 1 << 20: "1MiB", 1 << 30: "1GiB",
		1 << 40: "1TiB", 1_000_000_000_000: "1TB", 1001: "1001", 1536: "1536",
	}
	for n, want := range tests {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
		if n > 0 && want != "" {
			if back, err := ParseBytes(want); err != nil || back != n {
				t.Errorf("ParseBytes(FormatBytes(%d)) = %d, %v", n, back, err)
			}
		}
	}
}

// TestResolvePassword: the one reading of passwordEnv/passwordFile (issue 9), in the documented order.
func TestResolvePassword(t *testing.T) {
	env := map[string]string{"PW": "from-env", "EMPTY": "", "CR": "pw\r"}
	files := map[string]string{"pw.txt": "from-file\n\n", "empty.txt": "\n", "crlf.txt": "secret\r\n", "two.txt": "a\nb\n"}
	getenv := func(k string) string { return env[k] }
	readFile := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return []byte(b), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := map[string]struct {
		env, file       string
		want, from, err string
		noPassword      bool
	}{
		"environment":                      {env: "PW", want: "from-env", from: "$PW"},
		"file, trailing LFs dropped":       {file: "pw.txt", want: "from-file", from: "pw.txt"},
		"env comes before the file":        {env: "PW", file: "pw.txt", want: "from-env", from: "$PW"},
		"env named but unset":              {env: "UNSET", err: "environment variable UNSET is not set", noPassword: true},
		"env empty":                        {env: "EMPTY", err: "EMPTY is not set", noPassword: true},
		"file missing":                     {file: "nope.txt", err: "nope.txt: no such file", noPassword: true},
		"unset env falls back to the file": {env: "UNSET", file: "pw.txt", want: "from-file", from: "pw.txt"},
		"both missing, both named":         {env: "UNSET", file: "nope.txt", err: "UNSET is not set (export it or use a password file); nope.txt: no such file", noPassword: true},
		"file empty":                       {file: "empty.txt", err: "empty.txt is empty", noPassword: true},
		"neither":                          {err: "neither passwordEnv nor passwordFile", noPassword: true},
		"CRLF file refused":                {file: "crlf.txt", err: "dos2unix crlf.txt"},
		"two lines refused":                {file: "two.txt", err: "line break"},
		"CR in the variable":               {env: "CR", err: "carriage return"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, from, err := ResolvePassword(tc.env, tc.file, getenv, readFile)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, ErrNoPassword) != tc.noPassword {
					t.Fatalf("= %q, %v; want an error containing %q (ErrNoPassword %v)", got, err, tc.err, tc.noPassword)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil || got != tc.want || from != tc.from {
				t.Fatalf("= %q from %q, %v; want %q from %q", got, from, err, tc.want, tc.from)
			}
		})
	}
}

// TestSuggestOneHelper: spec.Suggest is the only "did you mean" (issue 9); device parameters and
// kinds use it too, so its threshold must serve both.
func TestSuggestOneHelper(t *testing.T) {
	kinds := []string{"tello", "openbci-wifi", "openbci-serial", "tcp", "udp", "http"}
	tests := map[string]struct {
		word       string
		candidates []string
		want       string
	}{
		"one letter off":             {"minBatery", []string{"minBattery", "timeout"}, "minBattery"},
		"case only":                  {"MINBATTERY", []string{"minBattery"}, "minBattery"},
		"short word, two off":        {"tsl", []string{"tls", "topics"}, "tls"},
		"kind with underscore":       {"openbci_wifi", kinds, "openbci-wifi"},
		"too far":                    {"lidar", kinds, ""},
		"non-ASCII counts runes":     {"ääbc", []string{"aabc"}, "aabc"}, // 2 runes apart, 4 bytes
		"long words are never typos": {strings.Repeat("a", 100), []string{strings.Repeat("a", 99)}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Suggest(tc.word, tc.candidates); got != tc.want {
				t.Errorf("Suggest(%q) = %q, want %q", tc.word, got, tc.want)
			}
		})
	}
}

// TestMatchPatternAgreesWithRegexp: the topic-name loop is the regexp it replaces.
func TestMatchPatternAgreesWithRegexp(t *testing.T) {
	for _, name := range []string{"", "a", "avatar.topic-00001", "a_b", "a b", "ä", "x/y", "-", "..", strings.Repeat("z", 300), "a\n"} {
		if got, want := matchPattern(topicNamePattern, name), patterns[topicNamePattern]().MatchString(name); got != want {
			t.Errorf("matchPattern(%q) = %v, regexp says %v", name, got, want)
		}
	}
}

// TestDiagnosticClipsQuotedValues: a quoted user value is cut to maxQuoted bytes with its length
// (issue 10 item 17: a 3 MB topic name was printed whole); unquoted text is ours and kept.
func TestDiagnosticClipsQuotedValues(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	tests := map[string]struct {
		format string
		args   []any
		want   string
	}{
		"short value kept":   {"name %q is bad", []any{"ok"}, `name "ok" is bad`},
		"long value clipped": {"name %q is bad", []any{long}, `name "` + strings.Repeat("x", 80) + `"… (3145728 bytes) is bad`},
		"unquoted text kept": {"%s: %q", []any{strings.Repeat("d", 100), "v"}, strings.Repeat("d", 100) + `: "v"`},
		"%% does not shift":  {"100%% of %q", []any{long[:81]}, `100% of "` + strings.Repeat("x", 80) + `"… (81 bytes)`},
		"rune boundary":      {"%q", []any{strings.Repeat("é", 50)}, `"` + strings.Repeat("é", 40) + `"… (100 bytes)`},
		"numbers untouched":  {"%d %q", []any{7, "a"}, `7 "a"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := diagnosticf(tc.format, tc.args...); got != tc.want {
				t.Errorf("got  %.200s\nwant %.200s", got, tc.want)
			}
		})
	}
}

// TestInvalidUTF8Position: the first invalid byte is found on its line and column.
func TestInvalidUTF8Position(t *testing.T) {
	data := []byte("apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: \"é\xff\" }\n")
	_, diags := Parse("a.yaml", data)
	if len(diags) == 0 || diags[0].Pos.Line != 3 || diags[0].Pos.Col != 21 || !strings.Contains(diags[0].Message, "0xff") {
		t.Fatalf("diagnostics: %v", diags)
	}
}
