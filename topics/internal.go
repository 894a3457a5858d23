package topics

import "strings"

// internalPrefixes name topics that Kafka, its ecosystem or avatar-sync itself own, never
// avatar.yaml: Kafka's own (`__consumer_offsets`, `__transaction_state`, `__cluster_metadata`) and
// avatar-sync's lock (`__avatar_sync_lock`) all start with "__"; the rest are conventions of Schema
// Registry (deleting `_schemas` loses every schema), Confluent tooling and Kafka Connect.
var internalPrefixes = []string{"__", "_schemas", "_confluent", "connect-configs", "connect-offsets", "connect-status"}

// IsInternalName reports whether a topic name belongs to Kafka or a tool rather than to the spec.
func IsInternalName(name string) bool {
	for _, p := range internalPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// IsInternal reports whether avatar-sync must never touch the topic: an internal name, or anything
// the cluster itself flags as internal. Internal topics are neither diffed, listed as unmanaged,
// nor deleted.
func IsInternal(name string, o Observed) bool {
	return o.Internal || IsInternalName(name)
}
