// Package topics holds the pure rules for Kafka topics: what the cluster reports (Observed), and how
// a desired spec.Topic differs from it. Nothing here does I/O.
package topics

// Broker is a live broker as the cluster reports it.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
}

// ConfigSource says where a live config value comes from, so a plan can explain a difference.
type ConfigSource int

// Config sources, mirroring Kafka's DescribeConfigs ConfigSource.
const (
	SourceUnknown              ConfigSource = iota
	SourceTopic                             // dynamic topic config: set on the topic (by avatar-sync or by hand)
	SourceDynamicBroker                     // dynamic config of one broker
	SourceDynamicDefaultBroker              // dynamic cluster-wide broker default
	SourceStaticBroker                      // the broker's properties file
	SourceDefault                           // Kafka's built-in default
)

// String is the phrase a plan prints after "live value comes from".
func (s ConfigSource) String() string {
	switch s {
	case SourceTopic:
		return "set on the topic"
	case SourceDynamicBroker:
		return "broker config"
	case SourceDynamicDefaultBroker:
		return "cluster-wide broker default"
	case SourceStaticBroker:
		return "broker properties file"
	case SourceDefault:
		return "Kafka default"
	default:
		return "unknown source"
	}
}

// ConfigValue is one described config entry.
type ConfigValue struct {
	Value     string       `json:"value"`
	Source    ConfigSource `json:"source"`
	Sensitive bool         `json:"sensitive,omitempty"`
}

// Observed is one live topic.
type Observed struct {
	Name string `json:"name"`
	// Replicas maps partition id to its replica broker ids, leader preference first.
	Replicas map[int32][]int32 `json:"replicas"`
	// Config holds every entry DescribeConfigs returned for the topic, with its source. Read only:
	// topics with equal entries share one map (clusters' Describe, issue 23), so a change to one
	// topic's map would change the others'; replace the map (maps.Clone) instead.
	Config   map[string]ConfigValue `json:"config"`
	Internal bool                   `json:"internal,omitempty"`
}

// Partitions is the live partition count.
func (o Observed) Partitions() int { return len(o.Replicas) }

// ReplicationFactor is the largest replica count of any partition (they differ only mid-move).
func (o Observed) ReplicationFactor() int {
	rf := 0
	for _, r := range o.Replicas {
		rf = max(rf, len(r))
	}
	return rf
}
