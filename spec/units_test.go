package spec

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseDurationMs(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		err  bool
	}{
		"bare milliseconds": {in: "604800000", want: 604800000},
		"seconds":           {in: "90s", want: 90000},
		"minutes":           {in: "10m", want: 600000},
		"hours":             {in: "1h", want: 3600000},
		"days":              {in: "7d", want: 604800000},
		"weeks":             {in: "2w", want: 1209600000},
		"milliseconds":      {in: "250ms", want: 250},
		"combined":          {in: "1h30m", want: 5400000},
		"fraction":          {in: "1.5h", want: 5400000},
		"spaces":            {in: " 1d 12h ", want: 129600000},
		"minus one":         {in: "-1", want: -1},
		"forever":           {in: "forever", want: -1},
		"Forever":           {in: "Forever", want: -1},
		"zero":              {in: "0", want: 0},
		"max long":          {in: "9223372036854775807", want: math.MaxInt64},
		"sub-millisecond":   {in: "0.5ms", err: true},
		"unknown unit":      {in: "1y", err: true},
		"no number":         {in: "h", err: true},
		"words":             {in: "1 hour", err: true},
		"empty":             {in: "", err: true},
		"overflow":          {in: "200000000000000d", err: true},
		"garbage":           {in: "1h-", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDurationMs(tc.in)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("ParseDurationMs(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := map[string]struct {
		in   string
		want time.Duration
		err  bool
	}{
		"days":        {in: "825d", want: 825 * 24 * time.Hour},
		"seconds":     {in: "2s", want: 2 * time.Second},
		"millis":      {in: "1500ms", want: 1500 * time.Millisecond},
		"no unit":     {in: "825", err: true},
		"forever":     {in: "forever", err: true},
		"too long":    {in: "1000000000d", err: true},
		"bad unit":    {in: "3 months", err: true},
		"fraction ok": {in: "0.5s", want: 500 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		err  bool
	}{
		"bare bytes":     {in: "1048588", want: 1048588},
		"MiB":            {in: "512MiB", want: 512 << 20},
		"GB":             {in: "1GB", want: 1e9},
		"lower case":     {in: "1gib", want: 1 << 30},
		"KB":             {in: "4KB", want: 4000},
		"KiB with space": {in: "4 KiB", want: 4096},
		"TiB":            {in: "2TiB", want: 2 << 40},
		"bytes unit":     {in: "100B", want: 100},
		"fraction":       {in: "1.5KiB", want: 1536},
		"unlimited":      {in: "unlimited", want: -1},
		"minus one":      {in: "-1", want: -1},
		"half a byte":    {in: "0.5B", err: true},
		"bits?":          {in: "1Gbit", err: true},
		"two units":      {in: "1GiB512MiB", err: true},
		"overflow":       {in: "9000000TiB", err: true},
		"words":          {in: "1 gig", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBytes(tc.in)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("ParseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestFormatRoundTrip checks that formatting a value and parsing it back is the identity, for the
// values plans print ("retention.ms 3600000 (1h)").
func TestFormatRoundTrip(t *testing.T) {
	for _, ms := range []int64{-1, 0, 1, 999, 1000, 60000, 3600000, 5400000, 86400000, 604800000, 90061001, math.MaxInt64} {
		s := FormatDurationMs(ms)
		back, err := ParseDurationMs(s)
		if err != nil || back != ms {
			t.Errorf("FormatDurationMs(%d) = %q, parses back to %d, %v", ms, s, back, err)
		}
	}
	for _, n := range []int64{-1, 0, 1, 1000, 1024, 1048588, 1 << 20, 1 << 30, 1e9, 536870912, 10485760, 1500} {
		s := FormatBytes(n)
		back, err := ParseBytes(s)
		if err != nil || back != n {
			t.Errorf("FormatBytes(%d) = %q, parses back to %d, %v", n, s, back, err)
		}
	}
	want := map[int64]string{3600000: "1h", 5400000: "1h30m", 604800000: "7d", -1: "forever", 1500: "1s500ms"}
	for ms, s := range want {
		if got := FormatDurationMs(ms); got != s {
			t.Errorf("FormatDurationMs(%d) = %q, want %q", ms, got, s)
		}
	}
	if got := FormatBytes(1 << 30); got != "1GiB" {
		t.Errorf("FormatBytes(1GiB) = %q", got)
	}
}

// FuzzUnitsRoundTrip: whatever parses, formats back to something that parses to the same value.
func FuzzUnitsRoundTrip(f *testing.F) {
	for _, s := range []string{"7d", "1h30m", "512MiB", "-1", "forever", "1.5h", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ms, err := ParseDurationMs(s); err == nil {
			if back, err := ParseDurationMs(FormatDurationMs(ms)); err != nil || back != ms {
				t.Fatalf("duration %q = %d formats as %q, back %d, %v", s, ms, FormatDurationMs(ms), back, err)
			}
		}
		if n, err := ParseBytes(s); err == nil {
			if back, err := ParseBytes(FormatBytes(n)); err != nil || back != n {
				t.Fatalf("size %q = %d formats as %q, back %d, %v", s, n, FormatBytes(n), back, err)
			}
		}
	})
}

func TestNormalizeTopicConfig(t *testing.T) {
	tests := map[string]struct {
		key, in, want string
		err           bool
	}{
		"duration unit":         {key: "retention.ms", in: "7d", want: "604800000"},
		"duration canonical":    {key: "retention.ms", in: "604800000", want: "604800000"},
		"retention forever":     {key: "retention.ms", in: "forever", want: "-1"},
		"retention below -1":    {key: "retention.ms", in: "-2", err: true},
		"size unit":             {key: "retention.bytes", in: "1GB", want: "1000000000"},
		"size binary":           {key: "segment.bytes", in: "1GiB", want: "1073741824"},
		"int size too big":      {key: "segment.bytes", in: "2GiB", err: true},
		"segment.bytes minimum": {key: "segment.bytes", in: "13", err: true},
		"bool case":             {key: "unclean.leader.election.enable", in: "TRUE", want: "true"},
		"bool garbage":          {key: "preallocate", in: "yes", err: true},
		"enum lower-cased":      {key: "compression.type", in: "LZ4", want: "lz4"},
		"enum Kafka's case":     {key: "message.timestamp.type", in: "logappendtime", want: "LogAppendTime"},
		"enum unknown":          {key: "compression.type", in: "brotli", err: true},
		"list sorted":           {key: "cleanup.policy", in: "delete, compact", want: "compact,delete"},
		"list deduplicated":     {key: "cleanup.policy", in: "compact,COMPACT", want: "compact"},
		"list empty":            {key: "cleanup.policy", in: " , ", err: true},
		"int":                   {key: "min.insync.replicas", in: " 2 ", want: "2"},
		"int zero":              {key: "min.insync.replicas", in: "0", err: true},
		"int not a number":      {key: "min.insync.replicas", in: "two", err: true},
		"double":                {key: "min.cleanable.dirty.ratio", in: "0.50", want: "0.5"},
		"double integer":        {key: "min.cleanable.dirty.ratio", in: "1", want: "1"},
		"double out of range":   {key: "min.cleanable.dirty.ratio", in: "1.01", err: true},
		"double NaN":            {key: "min.cleanable.dirty.ratio", in: "NaN", err: true},
		"replicas star":         {key: "leader.replication.throttled.replicas", in: "*", want: "*"},
		"replicas spaces":       {key: "leader.replication.throttled.replicas", in: "0:1, 1:2", want: "0:1,1:2"},
		"replicas bad":          {key: "follower.replication.throttled.replicas", in: "0-1", err: true},
		"local retention -2":    {key: "local.retention.ms", in: "-2", want: "-2"},
		"string kept":           {key: "message.format.version", in: " 3.0-IV1 ", want: "3.0-IV1"},
		"format release":        {key: "message.format.version", in: "2.8", want: "2.8"},
		"format patch release":  {key: "message.format.version", in: "2.8.1", want: "2.8.1"},
		"format 0.x":            {key: "message.format.version", in: "0.10.2", want: "0.10.2"},
		"format 0.x too short":  {key: "message.format.version", in: "0.10", err: true},
		"format 4.0-IV0":        {key: "message.format.version", in: "4.0-IV0", want: "4.0-IV0"},
		"format 4.0 release":    {key: "message.format.version", in: "4.0", err: true},
		"format word":           {key: "message.format.version", in: "latest", err: true},
		"format major only":     {key: "message.format.version", in: "3", err: true},
		"gzip level 0":          {key: "compression.gzip.level", in: "0", err: true},
		"gzip level -1":         {key: "compression.gzip.level", in: "-1", want: "-1"},
		"max long default":      {key: "flush.ms", in: "9223372036854775807", want: "9223372036854775807"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeTopicConfig(tc.key, tc.in)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("NormalizeTopicConfig(%q, %q) = %q, %v; want %q, error %v", tc.key, tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestNormalizeUnknownKey(t *testing.T) {
	got, err := NormalizeTopicConfig("retention.msec", " 5 ")
	if !errors.Is(err, ErrUnknownTopicConfig) || got != "5" {
		t.Fatalf("got %q, %v; want the trimmed value and ErrUnknownTopicConfig", got, err)
	}
	if want := `"retention.msec" is not a Kafka topic config; did you mean "retention.ms"?: unknown topic config`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

// TestTopicConfigTable keeps the table sound: sorted (lookups binary-search it), Kafka's defaults
// valid under its own rules, and each default already canonical.
func TestTopicConfigTable(t *testing.T) {
	for i, d := range topicConfigs {
		if i > 0 && topicConfigs[i-1].Key >= d.Key {
			t.Errorf("table not sorted at %q", d.Key)
		}
		if d.Doc == "" {
			t.Errorf("%s has no doc", d.Key)
		}
		if d.Type == ConfigReplicaList || d.Type == ConfigString {
			continue
		}
		got, err := d.Normalize(d.Default)
		if err != nil || got != d.Default {
			t.Errorf("%s: default %q normalizes to %q, %v", d.Key, d.Default, got, err)
		}
		if _, ok := LookupTopicConfig(d.Key); !ok {
			t.Errorf("LookupTopicConfig(%q) failed", d.Key)
		}
	}
	if len(topicConfigs) != 36 {
		t.Errorf("%d topic configs; Kafka 3.9 defines 36", len(topicConfigs))
	}
}

func TestHumanTopicConfig(t *testing.T) {
	for _, tc := range []struct{ key, in, want string }{
		{"retention.ms", "3600000", "1h"},
		{"retention.ms", "-1", "forever"},
		{"segment.bytes", "1073741824", "1GiB"},
		{"retention.bytes", "-1", "unlimited"},
		{"min.insync.replicas", "2", "2"},
		{"compression.type", "lz4", "lz4"},
		{"unknown.key", "1", "1"},
		{"retention.ms", "soon", "soon"},
	} {
		if got := HumanTopicConfig(tc.key, tc.in); got != tc.want {
			t.Errorf("HumanTopicConfig(%q, %q) = %q, want %q", tc.key, tc.in, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := specObj.keys()
	for _, tc := range []struct{ in, want string }{
		{"retension", ""}, // not a top-level key
		{"topcis", "topics"},
		{"Brokers", "brokers"},
		{"tsl", "tls"},
		{"colour", ""},
		{"apiversion", "apiVersion"},
		{"x", ""},
	} {
		if got := Suggest(tc.in, keys); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Suggest("retension", topicObj.keys()); got != "retention" {
		t.Errorf("Suggest(retension) among topic keys = %q", got)
	}
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"same", "same", 0}} {
		if got := levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
