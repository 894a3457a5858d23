package topics

import "strings"

// internalNames are topics that belong to Kafka or to the platform around it, never to avatar.yaml.
var internalNames = map[string]bool{
	"__consumer_offsets":  true,
	"__transaction_state": true,
	"__cluster_metadata":  true,
	"_schemas":            true, // Schema Registry's store: deleting it loses every schema
}

// IsInternal reports whether avatar-sync must never touch the topic: Kafka's own topics, Schema
// Registry's, avatar-sync's lock topics (prefix "__avatar_sync"), and anything the cluster itself
// flags as internal. Internal topics are neither diffed, listed as unmanaged, nor deleted.
func IsInternal(name string, o Observed) bool {
	return o.Internal || internalNames[name] || strings.HasPrefix(name, "__avatar_sync")
}
