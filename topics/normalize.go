package topics

import "github.com/avatar-project/avatar-sync/spec"

// normalize brings a config value to Kafka's canonical spelling (spec.NormalizeTopicConfig) so
// desired and live values compare as equal strings: "7d" equals "604800000", "Delete, compact"
// equals "compact,delete". A value the table cannot parse (a key newer than the table, or a broker
// quirk) falls back to its trimmed form, which NormalizeTopicConfig returns with the error: the
// comparison is then exact rather than failing the whole plan.
func normalize(key, value string) string {
	v, err := spec.NormalizeTopicConfig(key, value)
	if err != nil && v == "" {
		return value
	}
	return v
}
