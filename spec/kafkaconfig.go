package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ConfigType is the value type of a Kafka topic config, which decides how avatar.yaml may write it
// and how NormalizeTopicConfig canonicalises it.
type ConfigType int

// Config types, following Kafka's ConfigDef types; Ms and Bytes are LONGs that also accept human units.
const (
	ConfigString      ConfigType = iota
	ConfigBool                   // true/false, case-insensitive on input
	ConfigInt                    // 32-bit integer
	ConfigLong                   // 64-bit integer
	ConfigMs                     // 64-bit milliseconds: 604800000, 7d, 1h30m, forever (-1)
	ConfigBytes                  // 64-bit bytes: 1073741824, 1GiB, 512MB, unlimited (-1)
	ConfigIntBytes               // 32-bit bytes: 1048588, 1MiB
	ConfigDouble                 // floating point
	ConfigEnum                   // one of Enum
	ConfigEnumList               // comma-separated (or YAML list) subset of Enum
	ConfigReplicaList            // "*" or partition:broker pairs, for the replication throttles
)

// String names the type as docs and error messages do.
func (t ConfigType) String() string {
	switch t {
	case ConfigBool:
		return "boolean"
	case ConfigInt:
		return "int"
	case ConfigLong:
		return "long"
	case ConfigMs:
		return "duration"
	case ConfigBytes, ConfigIntBytes:
		return "size"
	case ConfigDouble:
		return "double"
	case ConfigEnum:
		return "enum"
	case ConfigEnumList:
		return "list"
	case ConfigReplicaList:
		return "replica list"
	default:
		return "string"
	}
}

// TopicConfigDef describes one topic-level config of Kafka 3.9 (kafka.log.LogConfig /
// org.apache.kafka.common.config.TopicConfig): its type, Kafka's default and the range Kafka's
// validator accepts, so avatar-sync rejects a value before the broker would.
type TopicConfigDef struct {
	Key     string
	Type    ConfigType
	Default string // Kafka's default in canonical form
	// Min and Max bound numeric types (inclusive); nil means unbounded on that side.
	Min, Max *float64
	// Except lists values inside Min..Max that Kafka still refuses (gzip level 0).
	Except []int64
	// Enum holds the canonical spellings for ConfigEnum / ConfigEnumList. Input is matched
	// case-insensitively and rewritten to this spelling, because Kafka's validators compare exactly
	// ("createtime" is corrected to "CreateTime", "LZ4" to "lz4").
	Enum []string
	Doc  string
	// Deprecated says why a key should no longer be set (empty when it is current).
	Deprecated string
	// Check, for a string config, is Kafka's validator of the value (message.format.version).
	Check func(value string) error
	// Refused maps canonical values Kafka's ConfigDef accepts but that the brokers avatar-sync
	// renders refuse at apply to why (remote.storage.enable: true without tiered storage).
	Refused map[string]string
}

func bound(v float64) *float64 { return &v }

const (
	maxLong = "9223372036854775807"
	maxInt  = float64(math.MaxInt32)
)

// topicConfigs is the table of every topic-level config of Kafka 3.9, in alphabetical order. It drives
// the config checks, NormalizeTopicConfig, the JSON Schema and docs/avatar-yaml.md.
var topicConfigs = []TopicConfigDef{
	{Key: "cleanup.policy", Type: ConfigEnumList, Default: "delete", Enum: []string{"compact", "delete"},
		Doc: "delete old segments by time/size, compact to the latest value per key, or both"},
	{Key: "compression.gzip.level", Type: ConfigInt, Default: "-1", Min: bound(-1), Max: bound(9), Except: []int64{0},
		Doc: "gzip level when compression.type is gzip: -1 (codec default) or 1..9"},
	{Key: "compression.lz4.level", Type: ConfigInt, Default: "9", Min: bound(1), Max: bound(17),
		Doc: "lz4 level when compression.type is lz4"},
	{Key: "compression.type", Type: ConfigEnum, Default: "producer",
		Enum: []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"},
		Doc:  "final compression of the topic's data; producer keeps what the producer sent"},
	{Key: "compression.zstd.level", Type: ConfigInt, Default: "3", Min: bound(-131072), Max: bound(22),
		Doc: "zstd level when compression.type is zstd"},
	{Key: "delete.retention.ms", Type: ConfigMs, Default: "86400000", Min: bound(0),
		Doc: "how long delete tombstones are kept on compacted topics"},
	{Key: "file.delete.delay.ms", Type: ConfigMs, Default: "60000", Min: bound(0),
		Doc: "wait before a deleted segment file is removed from disk"},
	{Key: "flush.messages", Type: ConfigLong, Default: maxLong, Min: bound(1),
		Doc: "force an fsync every this many messages (the default leaves it to the OS)"},
	{Key: "flush.ms", Type: ConfigMs, Default: maxLong, Min: bound(0),
		Doc: "force an fsync at least this often (the default leaves it to the OS)"},
	{Key: "follower.replication.throttled.replicas", Type: ConfigReplicaList, Default: "",
		Doc: "replicas throttled on the follower side: partition:broker pairs or *"},
	{Key: "index.interval.bytes", Type: ConfigIntBytes, Default: "4096", Min: bound(0), Max: bound(maxInt),
		Doc: "how often an offset index entry is written"},
	{Key: "leader.replication.throttled.replicas", Type: ConfigReplicaList, Default: "",
		Doc: "replicas throttled on the leader side: partition:broker pairs or *"},
	{Key: "local.retention.bytes", Type: ConfigBytes, Default: "-2", Min: bound(-2),
		Doc: "tiered storage: local bytes kept before segments are only remote (-2: retention.bytes)"},
	{Key: "local.retention.ms", Type: ConfigMs, Default: "-2", Min: bound(-2),
		Doc: "tiered storage: local time kept before segments are only remote (-2: retention.ms)"},
	{Key: "max.compaction.lag.ms", Type: ConfigMs, Default: maxLong, Min: bound(1),
		Doc: "longest a message stays ineligible for compaction"},
	{Key: "max.message.bytes", Type: ConfigIntBytes, Default: "1048588", Min: bound(0), Max: bound(maxInt),
		Doc: "largest record batch the topic accepts"},
	{Key: "message.downconversion.enable", Type: ConfigBool, Default: "true",
		Doc:        "convert messages down for old consumers",
		Deprecated: "message.downconversion.enable is deprecated since Kafka 3.0 and removed in 4.0"},
	{Key: "message.format.version", Type: ConfigString, Default: "3.0-IV1", Check: checkMetadataVersion,
		Doc:        "on-disk message format version (a Kafka version such as 2.8 or 3.0-IV1)",
		Deprecated: "message.format.version is deprecated since Kafka 3.0 and ignored with inter.broker.protocol.version 3.0 or newer"},
	{Key: "message.timestamp.after.max.ms", Type: ConfigMs, Default: maxLong, Min: bound(0),
		Doc: "how far in the future a CreateTime timestamp may be"},
	{Key: "message.timestamp.before.max.ms", Type: ConfigMs, Default: maxLong, Min: bound(0),
		Doc: "how far in the past a CreateTime timestamp may be"},
	{Key: "message.timestamp.difference.max.ms", Type: ConfigMs, Default: maxLong, Min: bound(0),
		Doc:        "largest allowed difference between a message's timestamp and the broker's clock",
		Deprecated: "message.timestamp.difference.max.ms is deprecated since Kafka 3.6: use message.timestamp.before.max.ms and message.timestamp.after.max.ms"},
	{Key: "message.timestamp.type", Type: ConfigEnum, Default: "CreateTime", Enum: []string{"CreateTime", "LogAppendTime"},
		Doc: "whose clock stamps a message: the producer's (CreateTime) or the broker's (LogAppendTime)"},
	{Key: "min.cleanable.dirty.ratio", Type: ConfigDouble, Default: "0.5", Min: bound(0), Max: bound(1),
		Doc: "share of the log that must be uncompacted before the cleaner runs"},
	{Key: "min.compaction.lag.ms", Type: ConfigMs, Default: "0", Min: bound(0),
		Doc: "shortest time a message stays uncompacted"},
	{Key: "min.insync.replicas", Type: ConfigInt, Default: "1", Min: bound(1), Max: bound(maxInt),
		Doc: "replicas that must acknowledge a write with acks=all"},
	{Key: "preallocate", Type: ConfigBool, Default: "false",
		Doc: "preallocate segment files on disk"},
	{Key: "remote.log.copy.disable", Type: ConfigBool, Default: "false",
		Doc: "tiered storage: stop copying segments to remote storage (Kafka 3.9)"},
	{Key: "remote.log.delete.on.disable", Type: ConfigBool, Default: "false",
		Doc: "tiered storage: delete remote segments when remote storage is disabled (Kafka 3.9)"},
	{Key: "remote.storage.enable", Type: ConfigBool, Default: "false",
		Doc: "tiered storage: enable remote storage for the topic; true is refused (the rendered brokers have no tiered storage)",
		Refused: map[string]string{"true": "the brokers avatar-sync renders have no tiered storage " +
			"(remote.log.storage.system.enable is false), so Kafka refuses the topic at apply: " +
			"\"Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.\"; " +
			"remove the key or set it to false"}},
	{Key: "retention.bytes", Type: ConfigBytes, Default: "-1", Min: bound(-1),
		Doc: "largest size a partition may grow to before old segments are deleted (-1: unlimited)"},
	{Key: "retention.ms", Type: ConfigMs, Default: "604800000", Min: bound(-1),
		Doc: "how long messages are kept (-1: forever); the topic key retention is shorthand for it"},
	{Key: "segment.bytes", Type: ConfigIntBytes, Default: "1073741824", Min: bound(14), Max: bound(maxInt),
		Doc: "size of one log segment file"},
	{Key: "segment.index.bytes", Type: ConfigIntBytes, Default: "10485760", Min: bound(4), Max: bound(maxInt),
		Doc: "size of the offset index per segment"},
	{Key: "segment.jitter.ms", Type: ConfigMs, Default: "0", Min: bound(0),
		Doc: "random jitter subtracted from segment.ms so segments do not all roll at once"},
	{Key: "segment.ms", Type: ConfigMs, Default: "604800000", Min: bound(1),
		Doc: "roll a new segment at least this often (retention deletes whole segments)"},
	{Key: "unclean.leader.election.enable", Type: ConfigBool, Default: "false",
		Doc: "allow an out-of-sync replica to become leader (availability over durability)"},
}

// TopicConfigs returns the table of Kafka topic-level configs avatar-sync knows, sorted by key.
func TopicConfigs() []TopicConfigDef { return slices.Clone(topicConfigs) }

// topicConfigIndex finds a key's row of topicConfigs. Every config value of a plan is normalized
// through LookupTopicConfig twice (desired and live), 20,000 lookups at 10,000 topics: a map
// answers in one hash where a binary search compared ~6 strings (issue 23).
var topicConfigIndex = func() map[string]int {
	idx := make(map[string]int, len(topicConfigs))
	for i, d := range topicConfigs {
		idx[d.Key] = i
	}
	return idx
}()

// LookupTopicConfig returns the definition of a Kafka topic config key.
func LookupTopicConfig(key string) (TopicConfigDef, bool) {
	i, ok := topicConfigIndex[key]
	if !ok {
		return TopicConfigDef{}, false
	}
	return topicConfigs[i], true
}

func topicConfigKeys() []string {
	keys := make([]string, len(topicConfigs))
	for i, d := range topicConfigs {
		keys[i] = d.Key
	}
	return keys
}

// ErrUnknownTopicConfig is returned (wrapped) by NormalizeTopicConfig for a key Kafka 3.9 does not
// define as a topic config.
var ErrUnknownTopicConfig = errors.New("unknown topic config")

// NormalizeTopicConfig converts a topic config value to Kafka's canonical string so a desired and a
// live value compare equal exactly when Kafka would treat them alike: "7d" and "604800000" both become
// "604800000", "1GiB" becomes "1073741824", "TRUE" becomes "true", "LZ4" becomes "lz4",
// "delete, compact" becomes "compact,delete". An unknown key returns the trimmed value and an error
// matching ErrUnknownTopicConfig, so callers that see configs newer than this table can still compare.
func NormalizeTopicConfig(key, value string) (string, error) {
	def, ok := LookupTopicConfig(key)
	if !ok {
		msg := fmt.Sprintf("%q is not a Kafka topic config", key) + topicConfigHint(key)
		return strings.TrimSpace(value), fmt.Errorf("%s: %w", msg, ErrUnknownTopicConfig)
	}
	return def.Normalize(value)
}

// Normalize converts value to the canonical form of this config (see NormalizeTopicConfig). The
// error says what is wrong with the value and what would be accepted, without naming the key.
func (d TopicConfigDef) Normalize(value string) (string, error) {
	v := strings.TrimSpace(value)
	switch d.Type {
	case ConfigBool:
		switch strings.ToLower(v) {
		case "true":
			return "true", nil
		case "false":
			return "false", nil
		}
		return "", fmt.Errorf("%q is not a boolean (true or false)", value)
	case ConfigInt, ConfigLong:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", value)
		}
		return d.checkRange(n, strconv.FormatInt(n, 10), value)
	case ConfigMs:
		n, err := ParseDurationMs(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a duration (milliseconds, or e.g. 90s, 10m, 1h, 7d, forever)", value)
		}
		return d.checkRange(n, strconv.FormatInt(n, 10), value)
	case ConfigBytes, ConfigIntBytes:
		n, err := ParseBytes(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a size (bytes, or e.g. 512KiB, 1MiB, 1GB)", value)
		}
		return d.checkRange(n, strconv.FormatInt(n, 10), value)
	case ConfigDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("%q is not a number", value)
		}
		if (d.Min != nil && f < *d.Min) || (d.Max != nil && f > *d.Max) {
			return "", fmt.Errorf("%s is outside %s", value, d.rangeText())
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case ConfigEnum:
		for _, e := range d.Enum {
			if strings.EqualFold(e, v) {
				return e, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s%s", value, strings.Join(d.Enum, ", "), didYouMean(v, d.Enum))
	case ConfigEnumList:
		var out []string
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			i := slices.IndexFunc(d.Enum, func(e string) bool { return strings.EqualFold(e, part) })
			if i < 0 {
				return "", fmt.Errorf("%q is not one of %s%s", part, strings.Join(d.Enum, ", "), didYouMean(part, d.Enum))
			}
			if !slices.Contains(out, d.Enum[i]) {
				out = append(out, d.Enum[i])
			}
		}
		if len(out) == 0 {
			return "", fmt.Errorf("empty list: use one or more of %s", strings.Join(d.Enum, ", "))
		}
		slices.Sort(out)
		return strings.Join(out, ","), nil
	case ConfigReplicaList:
		return normalizeReplicaList(value)
	default:
		if d.Check != nil {
			if err := d.Check(v); err != nil {
				return "", err
			}
		}
		return v, nil
	}
}

// Unsupported says why avatar-sync refuses a canonical value Kafka's ConfigDef would accept (see
// Refused), or "" when the value is fine.
func (d TopicConfigDef) Unsupported(canonical string) string { return d.Refused[canonical] }

// metadataVersions are the ibpVersion strings of Kafka 3.9's MetadataVersion enum
// (server-common org.apache.kafka.server.common.MetadataVersion, 0.8.0 through 4.0-IV1).
var metadataVersions = []string{
	"0.8.0", "0.8.1", "0.8.2", "0.9.0",
	"0.10.0-IV0", "0.10.0-IV1", "0.10.1-IV0", "0.10.1-IV1", "0.10.1-IV2", "0.10.2-IV0",
	"0.11.0-IV0", "0.11.0-IV1", "0.11.0-IV2",
	"1.0-IV0", "1.1-IV0", "2.0-IV0", "2.0-IV1", "2.1-IV0", "2.1-IV1", "2.1-IV2", "2.2-IV0", "2.2-IV1",
	"2.3-IV0", "2.3-IV1", "2.4-IV0", "2.4-IV1", "2.5-IV0", "2.6-IV0", "2.7-IV0", "2.7-IV1", "2.7-IV2",
	"2.8-IV0", "2.8-IV1", "3.0-IV0", "3.0-IV1", "3.1-IV0", "3.2-IV0",
	"3.3-IV0", "3.3-IV1", "3.3-IV2", "3.3-IV3", "3.4-IV0", "3.5-IV0", "3.5-IV1", "3.5-IV2",
	"3.6-IV0", "3.6-IV1", "3.6-IV2", "3.7-IV0", "3.7-IV1", "3.7-IV2", "3.7-IV3", "3.7-IV4",
	"3.8-IV0", "3.9-IV0", "4.0-IV0", "4.0-IV1",
}

// checkMetadataVersion is Kafka 3.9's MetadataVersionValidator: MetadataVersion.fromVersionString
// keeps the first three dot-separated parts of a version starting with "0." and the first two of
// any other, and looks that up among the ibpVersions and the releases up to the latest production
// one (3.9; "4.0" alone is not a version, "4.0-IV0" is). So "2.8", "2.8.1", "3.0-IV1" and "0.10.2"
// are versions; "3", "latest" and "4.0" are not. The error is Kafka's.
func checkMetadataVersion(v string) error {
	parts := strings.Split(v, ".")
	n := 2
	if strings.HasPrefix(v, "0.") {
		n = 3
	}
	key := v
	if len(parts) > n {
		key = strings.Join(parts[:n], ".")
	}
	for _, mv := range metadataVersions {
		release, _, _ := strings.Cut(mv, "-")
		if mv == key || (release == key && release != "4.0") {
			return nil
		}
	}
	return fmt.Errorf("%q is not a Kafka version (Kafka: \"Version %s is not a valid version\"); write one such as 2.8, 3.0 or 3.0-IV1", v, v)
}

// checkRange applies Min/Max (and the int32 limit of Kafka INT configs) to a parsed integer.
func (d TopicConfigDef) checkRange(n int64, canonical, written string) (string, error) {
	if slices.Contains(d.Except, n) {
		return "", fmt.Errorf("%s is not allowed (%s)", strings.TrimSpace(written), d.Doc)
	}
	f := float64(n)
	if (d.Min != nil && f < *d.Min) || (d.Max != nil && f > *d.Max) {
		shown := written
		if strings.TrimSpace(written) != canonical {
			shown = fmt.Sprintf("%s (%s)", strings.TrimSpace(written), canonical)
		}
		return "", fmt.Errorf("%s is outside %s", shown, d.rangeText())
	}
	return canonical, nil
}

// rangeText describes the accepted range in the units the config is written in.
func (d TopicConfigDef) rangeText() string {
	show := func(f float64) string {
		switch d.Type {
		case ConfigMs:
			if f >= 1000 {
				return FormatDurationMs(int64(f))
			}
		case ConfigBytes, ConfigIntBytes:
			if f >= 1024 {
				return FormatBytes(int64(f))
			}
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch {
	case d.Min != nil && d.Max != nil:
		return fmt.Sprintf("the allowed range %s..%s", show(*d.Min), show(*d.Max))
	case d.Min != nil:
		return fmt.Sprintf("the allowed range (at least %s)", show(*d.Min))
	case d.Max != nil:
		return fmt.Sprintf("the allowed range (at most %s)", show(*d.Max))
	}
	return "the allowed range"
}

// normalizeReplicaList checks Kafka's throttled-replicas syntax: "*" or partition:broker pairs.
func normalizeReplicaList(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "*" || v == "" {
		return v, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		partition, broker, ok := strings.Cut(p, ":")
		_, err1 := strconv.ParseUint(strings.TrimSpace(partition), 10, 31)
		_, err2 := strconv.ParseUint(strings.TrimSpace(broker), 10, 31)
		if !ok || err1 != nil || err2 != nil {
			return "", fmt.Errorf("%q is not a partition:broker pair (write e.g. 0:1,1:2 or *)", p)
		}
		parts[i] = strings.TrimSpace(partition) + ":" + strings.TrimSpace(broker)
	}
	return strings.Join(parts, ","), nil
}

// HumanTopicConfig renders a canonical config value for people: durations and sizes get their unit
// ("3600000" → "1h", "1073741824" → "1GiB"); anything else, or a value that does not parse, is
// returned unchanged. Plans print it beside the raw value.
func HumanTopicConfig(key, value string) string {
	def, ok := LookupTopicConfig(key)
	if !ok {
		return value
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return value
	}
	switch def.Type {
	case ConfigMs:
		return FormatDurationMs(n)
	case ConfigBytes, ConfigIntBytes:
		return FormatBytes(n)
	}
	return value
}
