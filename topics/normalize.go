package topics

import (
	"sort"
	"strings"
)

// normalize brings a config value to one canonical spelling so desired and live values compare as
// equal strings. It stands in for spec.NormalizeTopicConfig until that lands on main; both sides of
// every comparison go through it.
func normalize(key, value string) string {
	v := strings.TrimSpace(value)
	switch key {
	case "cleanup.policy":
		// "compact,delete" and "delete, compact" are the same policy.
		parts := strings.Split(strings.ToLower(v), ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	case "compression.type", "message.timestamp.type":
		return strings.ToLower(v)
	}
	return v
}
